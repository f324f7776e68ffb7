"""Versioned SQL migrations: ``migrations/NNNN_name.sql``, applied in order and recorded.

Each applied migration is recorded in ``vidsight_migrations`` with the SHA-256 of its text; a
recorded migration whose file changed, or one the code does not know (a newer deployment
migrated this database), stops the sink instead of guessing. Concurrent sinks serialise on an
advisory lock, so exactly one applies a pending migration.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import psycopg

from sinks.errors import MigrationError

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "vidsight_migrations"
_LOCK_KEY = 0x76_69_64_73_69_67_68_74  # "vidsight" as a bigint: the advisory lock id
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text: an applied migration must never change."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def migrations_dir() -> Traversable:
    """The packaged ``migrations`` directory."""
    try:
        return resources.files("sinks.postgres").joinpath("migrations")
    except (ModuleNotFoundError, NotADirectoryError):
        return Path(__file__).parent / "migrations"


def parse(files: Mapping[str, str]) -> list[Migration]:
    """Migrations from file name -> text, in version order; bad or duplicate names refused."""
    found: dict[int, Migration] = {}
    for file_name, sql in files.items():
        match = _NAME.match(file_name)
        if match is None:
            raise MigrationError(f"migration file {file_name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"two migrations with version {version}: {found[version].name}, {file_name}"
            )
        found[version] = Migration(version, match.group(2), sql)
    return [found[v] for v in sorted(found)]


def load() -> list[Migration]:
    """Every packaged migration, in version order."""
    directory = migrations_dir()
    files = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in directory.iterdir()
        if entry.name.endswith(".sql")
    }
    return parse(files)


def pending(available: Sequence[Migration], applied: Mapping[int, str]) -> list[Migration]:
    """Migrations still to apply, after checking the applied ones (version -> checksum)."""
    known = {m.version: m for m in available}
    for version, checksum in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version}, which this vidsight does not know: "
                "it was migrated by a newer version"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version}_{migration.name} changed after it was applied "
                f"(recorded sha256 {checksum[:12]}, file {migration.checksum[:12]}): "
                "add a new migration instead of editing an applied one"
            )
    return [m for m in available if m.version not in applied]


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
