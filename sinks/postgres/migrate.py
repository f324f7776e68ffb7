"""Versioned SQL migrations: ``migrations/NNNN_name.sql``, applied in order and recorded.

Each applied migration is recorded in ``vidsight_migrations`` with the SHA-256 of its text; a
recorded migration whose file changed, or one the code does not know (a newer deployment
migrated this database), stops the sink instead of guessing. Concurrent sinks serialise on an
advisory lock, so exactly one applies a pending migration.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.abc import Traversable
from typing import Any

import psycopg

from sinks.migrations import Migration, load_dir, package_dir, parse, pending

__all__ = ["MIGRATIONS_TABLE", "Migration", "load", "migrate", "migrations_dir", "parse", "pending"]

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "vidsight_migrations"
_LOCK_KEY = 0x76_69_64_73_69_67_68_74  # "vidsight" as a bigint: the advisory lock id


def migrations_dir() -> Traversable:
    """The packaged ``migrations`` directory."""
    return package_dir("sinks.postgres", __file__)


def load() -> list[Migration]:
    """Every packaged migration, in version order."""
    return load_dir(migrations_dir())


def migrate(
    conn: psycopg.Connection[Any], available: Sequence[Migration] | None = None
) -> list[Migration]:
    """Apply pending migrations in one transaction; return those applied."""
    migrations = load() if available is None else list(available)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = conn.execute(f"SELECT version, checksum FROM {MIGRATIONS_TABLE}")
        applied = {int(v): str(c) for v, c in cur.fetchall()}
        todo = pending(migrations, applied)
        for m in todo:
            log.info("applying migration version=%d name=%s", m.version, m.name)
            conn.execute(m.sql.encode("utf-8"))
            conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                (m.version, m.name, m.checksum),
            )
    return todo
