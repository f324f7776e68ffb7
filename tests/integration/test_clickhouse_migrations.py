"""ClickHouse migrations against the real endpoint (chDB behind infra/clickhouse_http).

Each test works in a database of its own on one endpoint process, as the stack runs it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_server import ServerProcess

from sinks.clickhouse import ddl, migrate
from sinks.errors import MigrationError
from sinks.migrations import Migration

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("clickhouse_migrations")
    srv = ServerProcess(root / "data", root / "server.log")
    srv.start()
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.stop()


def _client(server: ServerProcess) -> Client:
    return clickhouse_connect.get_client(**server.client_args(), autogenerate_session_id=False)


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    ch = _client(server)
    yield ch
    ch.close()


@pytest.fixture
def db(client: Client) -> Iterator[str]:
    name = f"mig_{uuid.uuid4().hex[:8]}"
    yield name
    client.command(f"DROP DATABASE IF EXISTS {name} SYNC")


def _recorded(client: Client, db: str) -> list[tuple[int, str, str]]:
    rows = client.query(
        f"SELECT version, name, checksum, applied_at FROM {db}.vidsight_migrations FINAL "
        "ORDER BY version"
    ).result_rows
    for *_, applied_at in rows:
        assert isinstance(applied_at, datetime)
    return [(int(v), str(n), str(c)) for v, n, c, _ in rows]


def _columns(client: Client, db: str, table: str) -> list[tuple[str, str]]:
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String} "
        "ORDER BY position",
        parameters={"d": db, "t": table},
    ).result_rows
    return [(str(n), str(t)) for n, t in rows]


def _tables(client: Client, db: str) -> set[str]:
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {d:String}", parameters={"d": db}
    ).result_rows
    return {str(n) for (n,) in rows}


def test_a_fresh_database_gets_every_migration_recorded_once(client: Client, db: str) -> None:
    packaged = migrate.load()
    applied = migrate.ensure_schema(client, db)
    assert applied == packaged
    assert _recorded(client, db) == [(m.version, m.name, m.checksum) for m in packaged]
    for table in ddl.FACT_TABLES:
        assert _columns(client, db, table.name) == [*table.columns, ddl.TOPIC_ID]
    assert {*ddl.ROLLUPS, *(f"{r}_mv" for r in ddl.ROLLUPS)} <= _tables(client, db)
    assert "vidsight_migrations_lock" not in _tables(client, db)
    # A second start finds nothing to do.
    assert migrate.ensure_schema(client, db) == []
    assert len(_recorded(client, db)) == len(packaged)


def test_a_changed_applied_migration_is_refused(client: Client, db: str) -> None:
    first, *rest = migrate.load()
    migrate.migrate(client, db, [first])
    edited = Migration(first.version, first.name, first.sql.replace("bbox", "box"))
    with pytest.raises(MigrationError, match="1_init changed after it was applied"):
        migrate.migrate(client, db, [edited, *rest])
    assert [v for v, _, _ in _recorded(client, db)] == [1]  # nothing after it ran


def test_a_database_migrated_by_a_newer_vidsight_is_refused(client: Client, db: str) -> None:
    first, *_ = migrate.load()
    later = Migration(99, "later", "ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS z UInt8;\n")
    migrate.migrate(client, db, [first, later])
    with pytest.raises(MigrationError, match="newer version"):
        migrate.ensure_schema(client, db)


def test_a_later_migration_applies_in_order_and_a_failing_one_is_not_recorded(
    client: Client, db: str
) -> None:
    packaged = migrate.load()
    migrate.migrate(client, db, packaged)
    n = len(packaged)
    add = Migration(
        n + 1,
        "alerts_note",
        "ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS note String DEFAULT '';\n",
    )
    broken = Migration(n + 2, "broken", "ALTER TABLE {db}.alerts MODIFY COLUMN note NoSuchType;\n")
    with pytest.raises(MigrationError, match=f"{n + 2:04d}_broken failed on"):
        migrate.migrate(client, db, [*packaged, add, broken])
    assert [v for v, _, _ in _recorded(client, db)][-1] == n + 1
    assert ("note", "String") in _columns(client, db, "alerts")
    # The sink refuses a table whose columns are not those it writes.
    with pytest.raises(MigrationError, match=r"alerts does not have the columns.*'note'"):
        migrate.verify(client, db)


def _todays_ddl(db: str, *, with_topic_id: bool) -> list[str]:
    """What ``ddl.statements`` made before migrations existed (0001 is exactly that DDL)."""
    first = migrate.load()[0]
    out = migrate.statements(first, db)
    if not with_topic_id:  # the DDL before `_topic_id` existed
        out = [st.replace(",\n    `_topic_id` LowCardinality(String) DEFAULT ''", "") for st in out]
    return out


@pytest.mark.parametrize("with_topic_id", [True, False])
def test_a_deployment_made_before_migrations_is_baselined_keeping_its_rows(
    client: Client, db: str, with_topic_id: bool
) -> None:
    for statement in _todays_ddl(db, with_topic_id=with_topic_id):
        client.command(statement)
    assert (("_topic_id", "LowCardinality(String)") in _columns(client, db, "alerts")) is (
        with_topic_id
    )
    ts = datetime(2024, 5, 6, 13, 0, tzinfo=UTC)
    names = list(ddl.DETECTIONS.names)
    row = ["e1", 0, "cam", ts, 1, "m", 7, "person", 0.9, 0.1, 0.1, 0.2, 0.2, None, 0, 5]
    client.insert("detections", [row], column_names=names, database=db)

    assert migrate.ensure_schema(client, db) == migrate.load()

    for table in ddl.FACT_TABLES:
        assert _columns(client, db, table.name) == [*table.columns, ddl.TOPIC_ID]
    kept = client.query(f"SELECT event_id, track_id, _topic_id FROM {db}.detections").result_rows
    assert kept == [("e1", 7, "")]
    hourly = client.query(f"SELECT sum(objects) FROM {db}.detections_hourly").result_rows
    assert hourly == [(1,)]
    assert [v for v, _, _ in _recorded(client, db)] == [m.version for m in migrate.load()]


def test_sinks_starting_at_once_apply_each_migration_once(
    server: ServerProcess, client: Client, db: str
) -> None:
    packaged = migrate.load()
    start = threading.Barrier(4)

    def one() -> list[int]:
        ch = _client(server)
        try:
            start.wait()
            return [m.version for m in migrate.ensure_schema(ch, db)]
        finally:
            ch.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: one(), range(4)))
    # The lock lets exactly one of them apply; the others find everything recorded.
    assert sorted(results, key=len) == [[], [], [], [m.version for m in packaged]]
    assert [v for v, _, _ in _recorded(client, db)] == [m.version for m in packaged]
    assert "vidsight_migrations_lock" not in _tables(client, db)


def test_a_held_lock_is_waited_for_and_a_stale_one_broken(
    server: ServerProcess, client: Client, db: str
) -> None:
    client.command(f"CREATE DATABASE {db}")
    lock = f"CREATE TABLE {db}.vidsight_migrations_lock (owner String) ENGINE = Memory"
    client.command(lock)
    done = threading.Event()

    def run() -> None:
        ch = _client(server)
        try:
            migrate.ensure_schema(ch, db)
        finally:
            ch.close()
            done.set()

    waiter = threading.Thread(target=run)
    waiter.start()
    assert not done.wait(1.5)  # held by "another sink"
    client.command(f"DROP TABLE {db}.vidsight_migrations_lock SYNC")
    assert done.wait(30)
    waiter.join()
    assert len(_recorded(client, db)) == len(migrate.load())

    # With nothing to apply a start takes no lock: a left-over one delays nobody.
    client.command(lock)
    t0 = time.monotonic()
    assert migrate.ensure_schema(client, db) == []
    assert time.monotonic() - t0 < 1.0

    # A lock left by a sink that died mid-way is broken once older than stale_after_s.
    t0 = time.monotonic()
    later = Migration(99, "later", "ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS z UInt8;\n")
    assert migrate.migrate(client, db, [*migrate.load(), later], stale_after_s=1) == [later]
    assert 1 <= time.monotonic() - t0 < 30
    assert "vidsight_migrations_lock" not in _tables(client, db)
