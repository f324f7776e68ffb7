"""Versioned migrations: naming, ordering, checksums (pure), and the packaged files."""

from __future__ import annotations

import pytest

from sinks.errors import MigrationError
from sinks.postgres import migrate
from sinks.postgres.rows import TABLES


def test_files_are_ordered_by_version() -> None:
    found = migrate.parse({"0002_more.sql": "B", "0001_init.sql": "A", "0010_x.sql": "C"})
    assert [(m.version, m.name) for m in found] == [(1, "init"), (2, "more"), (10, "x")]


@pytest.mark.parametrize("name", ["1_init.sql", "0001-init.sql", "0001_Init.sql", "init.sql"])
def test_badly_named_files_are_refused(name: str) -> None:
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        migrate.parse({name: ""})


def test_two_files_with_one_version_are_refused() -> None:
    with pytest.raises(MigrationError, match="two migrations with version 1"):
        migrate.parse({"0001_a.sql": "", "0001_b.sql": ""})


def test_pending_skips_what_is_applied() -> None:
    ms = migrate.parse({"0001_a.sql": "A", "0002_b.sql": "B"})
    assert migrate.pending(ms, {}) == ms
    assert migrate.pending(ms, {1: ms[0].checksum}) == [ms[1]]
    assert migrate.pending(ms, {1: ms[0].checksum, 2: ms[1].checksum}) == []


def test_an_edited_applied_migration_stops_everything() -> None:
    ms = migrate.parse({"0001_a.sql": "A changed"})
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate.pending(ms, {1: migrate.Migration(1, "a", "A").checksum})


def test_a_database_migrated_by_a_newer_version_is_refused() -> None:
    ms = migrate.parse({"0001_a.sql": "A"})
    with pytest.raises(MigrationError, match="newer version"):
        migrate.pending(ms, {1: ms[0].checksum, 2: "x"})


def test_packaged_migrations_create_every_projected_table() -> None:
    ms = migrate.load()
    assert ms[0].version == 1
    sql = "\n".join(m.sql for m in ms)
    for table in TABLES.values():
        assert f"CREATE TABLE {table.name} (" in sql
        for column in table.names:
            created = f"\n    {column} " in sql or f"ADD COLUMN {column} " in sql
            assert created, (table.name, column)
