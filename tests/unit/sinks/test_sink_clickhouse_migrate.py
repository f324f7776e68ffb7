"""ClickHouse migrations, pure parts: the packaged files, statement splitting, rerun safety."""

from __future__ import annotations

import re

import pytest

from sinks.clickhouse import ddl, migrate
from sinks.errors import MigrationError
from sinks.migrations import Migration, parse, pending


def _columns(create: str) -> list[tuple[str, str]]:
    """The ``(name, type)`` columns of a CREATE TABLE statement (indexes skipped)."""
    body = create.split("\n(\n", 1)[1].split("\n)\n", 1)[0]
    out = []
    for line in body.splitlines():
        match = re.fullmatch(r"\s*`(\w+)` (.+?)(?: DEFAULT .*)?,?", line)
        if match:
            out.append((match.group(1), match.group(2)))
    return out


def test_packaged_migrations_are_in_order_from_one() -> None:
    ms = migrate.load()
    assert [m.version for m in ms] == list(range(1, len(ms) + 1))
    assert [m.name for m in ms[:2]] == ["init", "topic_id"]


_ADD_AFTER = re.compile(
    r"ALTER TABLE vdb\.(\w+) ADD COLUMN IF NOT EXISTS `(\w+)` (.+?)(?: DEFAULT .*?)? AFTER `(\w+)`"
)


def test_the_migrations_create_the_fact_tables_the_sink_inserts_into() -> None:
    created: dict[str, str] = {}
    tables: dict[str, list[tuple[str, str]]] = {}
    # Every migration in order: a table is created (the first one's, or a later one's) and
    # then gets the columns later migrations add.
    for st in (s for m in migrate.load() for s in migrate.statements(m, "vdb")):
        if st.startswith("CREATE TABLE IF NOT EXISTS vdb."):
            name = st.split()[5].split(".")[1]
            created[name] = st
            tables[name] = _columns(st)
            continue
        match = _ADD_AFTER.fullmatch(st)
        if match is None:
            continue
        table, name, type_, after = match.groups()
        columns = tables[table]
        if name not in [c for c, _ in columns]:  # IF NOT EXISTS
            columns.insert([c for c, _ in columns].index(after) + 1, (name, type_))
    assert set(ddl.ROLLUPS) <= set(created)
    for table in ddl.FACT_TABLES:
        assert tables[table.name] == [*table.columns, ddl.TOPIC_ID]


def test_statements_split_at_line_ends_drop_comments_and_name_the_database() -> None:
    m = Migration(
        7,
        "x",
        "-- what and why\nCREATE TABLE IF NOT EXISTS {db}.t (a String)\n"
        "ENGINE = Memory COMMENT 'a; b';\n\n"
        "ALTER TABLE {db}.t ADD COLUMN IF NOT EXISTS b UInt8;  \n-- trailing note\n",
    )
    assert migrate.statements(m, "vdb") == [
        "CREATE TABLE IF NOT EXISTS vdb.t (a String)\nENGINE = Memory COMMENT 'a; b'",
        "ALTER TABLE vdb.t ADD COLUMN IF NOT EXISTS b UInt8",
    ]


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("CREATE TABLE {db}.t (a UInt8) ENGINE = Memory", "CREATE without IF NOT EXISTS"),
        ("create materialized view {db}.v TO {db}.t AS SELECT 1", "CREATE without IF NOT"),
        ("DROP TABLE {db}.t", "DROP without IF EXISTS"),
        ("ALTER TABLE {db}.t ADD COLUMN b UInt8", "ADD COLUMN without IF NOT EXISTS"),
        (
            "ALTER TABLE {db}.t ADD COLUMN IF NOT EXISTS b UInt8, DROP COLUMN c",
            "DROP COLUMN without IF EXISTS",
        ),
        ("ALTER TABLE {db}.t ADD INDEX i a TYPE minmax", "ADD INDEX without IF NOT EXISTS"),
        ("RENAME TABLE {db}.t TO {db}.u", "RENAME cannot run twice"),
    ],
)
def test_statements_that_cannot_run_twice_are_refused(sql: str, problem: str) -> None:
    with pytest.raises(MigrationError, match=f"0009_bad: .*{re.escape(problem)}"):
        migrate.statements(Migration(9, "bad", sql + ";\n"), "vdb")


def test_statements_safe_to_repeat_pass() -> None:
    sql = (
        "CREATE OR REPLACE VIEW {db}.v AS SELECT 1;\n"
        "DROP VIEW IF EXISTS {db}.v;\n"
        "ALTER TABLE {db}.t MODIFY TTL toDate(ts) + 30;\n"
        "ALTER TABLE {db}.t DROP COLUMN IF EXISTS c, ADD INDEX IF NOT EXISTS i a TYPE minmax;\n"
    )
    assert len(migrate.statements(Migration(3, "ok", sql), "vdb")) == 4


@pytest.mark.parametrize("db", ["", "1db", "a.b", "a;DROP", "a b", "`a`"])
def test_database_names_must_be_plain_identifiers(db: str) -> None:
    with pytest.raises(MigrationError, match="clickhouse database name"):
        migrate.check_database(db)


def test_an_applied_clickhouse_migration_that_changed_is_refused() -> None:
    (first, *rest) = migrate.load()
    edited = Migration(first.version, first.name, first.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="1_init changed after it was applied"):
        pending([edited, *rest], {1: first.checksum})
    assert pending(migrate.load(), {1: first.checksum}) == rest


def test_file_names_follow_the_postgres_convention() -> None:
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        parse({"3_more.sql": "ALTER TABLE ..."})
