"""Versioned ClickHouse migrations: ``migrations/NNNN_name.sql``, applied in order and recorded.

As for PostgreSQL (sinks/postgres/migrate.py, rules in sinks/migrations.py), each applied
migration is recorded with the SHA-256 of its file in ``<db>.vidsight_migrations``; a changed
applied migration, or one this code does not know, stops the sink. A file holds statements
ending with ``;`` at the end of a line, ``{db}`` standing for the configured database.

ClickHouse has no transactions and no advisory locks, so two things keep sinks that start at
once from tripping over each other:

- a lock table, taken only when something is pending: ``CREATE TABLE`` of a fixed name
  succeeds for exactly one caller; the others wait until it is dropped, and break it when it
  is older than ``stale_after_s`` (its holder died mid-way);
- every statement must be safe to run twice (``IF NOT EXISTS``/``IF EXISTS`` on what creates,
  adds or drops; no RENAME or EXCHANGE), which ``statements`` checks, so a broken lock or a
  crash between a statement and its record costs nothing, and the record table is a
  ReplacingMergeTree on the version, so a version recorded twice is one row.

Databases made by the DDL before migrations existed have the tables and no records: their
fact tables are detected and the migrations run over them as a baseline (0001 creates only
what is missing, 0002 adds ``_topic_id`` where it lacks); ``verify`` then checks that every
fact table has exactly the columns the sink inserts.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from importlib.abc import Traversable

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from sinks.clickhouse.ddl import FACT_TABLES, TOPIC_ID
from sinks.errors import MigrationError
from sinks.migrations import Migration, load_dir, package_dir, pending

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "vidsight_migrations"
LOCK_TABLE = "vidsight_migrations_lock"
STALE_AFTER_S = 300.0
"""A lock older than this is taken to belong to a sink that died while migrating."""

_TABLE_ALREADY_EXISTS = 57
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_END = re.compile(r";[ \t]*(?:\n|$)")
_CREATE_OK = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+|(?:TEMPORARY\s+)?(?:TABLE|DATABASE|(?:MATERIALIZED\s+)?VIEW"
    r"|DICTIONARY|FUNCTION)\s+IF\s+NOT\s+EXISTS\s)"
)
_DROP_OK = re.compile(r"^DROP\s+(?:TABLE|VIEW|DATABASE|DICTIONARY|FUNCTION)\s+IF\s+EXISTS\s")
_ALTER_PARTS = re.compile(r"\b(ADD|DROP|RENAME)\s+(COLUMN|INDEX|PROJECTION|CONSTRAINT)\s+(IF\b)?")


def migrations_dir() -> Traversable:
    """The packaged ``migrations`` directory."""
    return package_dir("sinks.clickhouse", __file__)


def load() -> list[Migration]:
    """Every packaged migration, in version order, each checked by ``statements``."""
    found = load_dir(migrations_dir())
    for m in found:
        statements(m, "db")
    return found


def check_database(db: str) -> str:
    """The database name, refused unless it is a plain identifier (it is spliced into DDL)."""
    if not _IDENT.match(db):
        raise MigrationError(
            f"clickhouse database name {db!r} must be letters, digits and '_' "
            "(not starting with a digit)"
        )
    return db


def statements(migration: Migration, db: str) -> list[str]:
    """The statements of a migration for database ``db``, each checked to be safe to rerun."""
    check_database(db)
    out: list[str] = []
    for piece in _END.split(migration.sql):
        lines = [ln for ln in piece.splitlines() if not ln.lstrip().startswith("--")]
        statement = "\n".join(lines).strip()
        if statement:
            _check_rerunnable(statement, migration)
            out.append(statement.replace("{db}", db))
    return out


def _check_rerunnable(statement: str, migration: Migration) -> None:
    text = " ".join(statement.upper().split())
    verb = text.split(" ", 1)[0]
    problem = None
    if verb == "CREATE" and not _CREATE_OK.match(text + " "):
        problem = "CREATE without IF NOT EXISTS"
    elif verb == "DROP" and not _DROP_OK.match(text + " "):
        problem = "DROP without IF EXISTS"
    elif verb in ("RENAME", "EXCHANGE"):
        problem = f"{verb} cannot run twice"
    elif verb == "ALTER":
        for action, what, has_if in _ALTER_PARTS.findall(text):
            if not has_if:
                wanted = "IF NOT EXISTS" if action == "ADD" else "IF EXISTS"
                problem = f"ALTER ... {action} {what} without {wanted}"
                break
    if problem is not None:
        first = statement.splitlines()[0]
        raise MigrationError(
            f"clickhouse migration {migration.version:04d}_{migration.name}: {problem} "
            f"in {first!r}: a migration may run twice (sinks starting at once), so every "
            "statement must be safe to repeat"
        )


def migrate(
    client: Client,
    db: str,
    available: Sequence[Migration] | None = None,
    *,
    stale_after_s: float = STALE_AFTER_S,
) -> list[Migration]:
    """Apply the pending migrations of database ``db`` under the lock; return those applied.

    Transport errors of the client (``OperationalError``) propagate for the caller to retry;
    a statement the server refuses is a ``MigrationError`` naming the migration.
    """
    check_database(db)
    migrations = load() if available is None else list(available)
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.{MIGRATIONS_TABLE} (\n"
        "    version UInt32,\n    name String,\n    checksum String,\n"
        "    applied_at DateTime64(6, 'UTC') DEFAULT now64(6)\n"
        ") ENGINE = ReplacingMergeTree ORDER BY version\n"
        "COMMENT 'Applied schema migrations (sinks/clickhouse/migrations)'"
    )
    # Every start and every reconnect comes here: with nothing to apply (the usual case, and
    # checked as strictly as under the lock) no lock is taken, so a lock left by a sink that
    # died mid-migration only delays the sinks that have something to apply.
    if not pending(migrations, recorded(client, db)):
        return []
    owner = uuid.uuid4().hex
    _acquire(client, db, owner, stale_after_s)
    try:
        applied = recorded(client, db)  # again: another sink may have applied them meanwhile
        if not applied:
            existing = _fact_tables_present(client, db)
            if existing:
                log.info(
                    "baselining a clickhouse database made before migrations db=%s tables=%s",
                    db,
                    ",".join(existing),
                )
        todo = pending(migrations, applied)
        for m in todo:
            log.info(
                "applying clickhouse migration db=%s version=%d name=%s", db, m.version, m.name
            )
            for statement in statements(m, db):
                try:
                    client.command(statement)
                except OperationalError:
                    raise  # the server or the network, not the migration: the caller retries
                except DatabaseError as exc:
                    raise MigrationError(
                        f"clickhouse migration {m.version:04d}_{m.name} failed on "
                        f"{statement.splitlines()[0]!r}: {exc}"
                    ) from exc
            client.insert(
                MIGRATIONS_TABLE,
                [[m.version, m.name, m.checksum]],
                column_names=["version", "name", "checksum"],
                database=db,
            )
        return todo
    finally:
        try:
            _release(client, db, owner)
        except (OperationalError, OSError) as exc:
            log.warning(
                "clickhouse migration lock not released db=%s (others break it after %.0fs): %s",
                db,
                stale_after_s,
                exc,
            )


def recorded(client: Client, db: str) -> dict[int, str]:
    """Applied versions -> checksums; a version recorded with two checksums is refused."""
    rows = client.query(
        f"SELECT DISTINCT version, checksum FROM {check_database(db)}.{MIGRATIONS_TABLE}"
    ).result_rows
    out: dict[int, str] = {}
    for version, checksum in rows:
        if int(version) in out:
            raise MigrationError(
                f"clickhouse migration {version} is recorded in {db}.{MIGRATIONS_TABLE} with "
                "two different checksums"
            )
        out[int(version)] = str(checksum)
    return out


def ensure_schema(client: Client, db: str) -> list[Migration]:
    """Apply the packaged migrations, then check the fact tables (``verify``)."""
    applied = migrate(client, db)
    verify(client, db)
    return applied


def verify(client: Client, db: str) -> None:
    """Every fact table has exactly the columns inserts send, with their types, in order."""
    rows = client.query(
        "SELECT table, name, type FROM system.columns WHERE database = {db:String} "
        "ORDER BY table, position",
        parameters={"db": check_database(db)},
    ).result_rows
    found: dict[str, list[tuple[str, str]]] = {}
    for table, name, type_ in rows:
        found.setdefault(str(table), []).append((str(name), str(type_)))
    for t in FACT_TABLES:
        expected = [*t.columns, TOPIC_ID]
        have = found.get(t.name)
        if have is None:
            raise MigrationError(
                f"clickhouse table {db}.{t.name} is missing although its migrations are "
                f"recorded: drop {db}.{MIGRATIONS_TABLE} to have them applied again"
            )
        if have != expected:
            missing = [c for c in expected if c not in have]
            extra = [c for c in have if c not in expected]
            raise MigrationError(
                f"clickhouse table {db}.{t.name} does not have the columns the sink writes "
                f"(missing {missing}, unexpected {extra}, or out of order): a column added "
                "to sinks/clickhouse/ddl.py needs a migration"
            )


def _fact_tables_present(client: Client, db: str) -> list[str]:
    rows = client.query(
        "SELECT name FROM system.tables "
        "WHERE database = {db:String} AND name IN {names:Array(String)}",
        parameters={"db": db, "names": [t.name for t in FACT_TABLES]},
    ).result_rows
    return sorted(str(n) for (n,) in rows)


def _acquire(
    client: Client,
    db: str,
    owner: str,
    stale_after_s: float,
) -> None:
    """Create the lock table; wait while another holds it, break it once it is stale."""
    waited_since = time.monotonic()
    delay = 0.05
    while True:
        try:
            client.command(
                f"CREATE TABLE {db}.{LOCK_TABLE} (owner String) ENGINE = Memory COMMENT '{owner}'"
            )
            return
        except DatabaseError as exc:
            if getattr(exc, "code", None) != _TABLE_ALREADY_EXISTS and (
                f"code: {_TABLE_ALREADY_EXISTS}" not in str(exc)
            ):
                raise
        age = _lock_age_s(client, db)
        if age is not None and age > stale_after_s:
            log.warning(
                "breaking a stale clickhouse migration lock db=%s age_s=%.0f (its holder died?)",
                db,
                age,
            )
            client.command(f"DROP TABLE IF EXISTS {db}.{LOCK_TABLE} SYNC")
            continue
        waited = time.monotonic() - waited_since
        if waited > stale_after_s * 2:
            raise MigrationError(
                f"waited {waited:.0f}s for the clickhouse migration lock "
                f"{db}.{LOCK_TABLE} held by another sink"
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _lock_age_s(client: Client, db: str) -> float | None:
    rows = client.query(
        "SELECT dateDiff('second', metadata_modification_time, now()) FROM system.tables "
        "WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": db, "t": LOCK_TABLE},
    ).result_rows
    return float(rows[0][0]) if rows else None


def _release(client: Client, db: str, owner: str) -> None:
    """Drop the lock if it is still ours (a stale-lock breaker may have taken it)."""
    rows = client.query(
        "SELECT comment FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": db, "t": LOCK_TABLE},
    ).result_rows
    if rows and rows[0][0] == owner:
        client.command(f"DROP TABLE IF EXISTS {db}.{LOCK_TABLE} SYNC")
