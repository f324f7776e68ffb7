"""Versioned migrations, store-independent: ``NNNN_name.sql`` files, ordering and checksums.

Each store's migrate module (sinks/postgres/migrate.py, sinks/clickhouse/migrate.py) records
what it applied with the SHA-256 of the file's text and checks it against these rules: a
recorded migration whose file changed, or one the code does not know (a newer deployment
migrated this database), stops the sink instead of guessing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from sinks.errors import MigrationError

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


def package_dir(package: str, file: str) -> Traversable:
    """The ``migrations`` directory packaged with ``package`` (``file`` is its module's path)."""
    try:
        return resources.files(package).joinpath("migrations")
    except (ModuleNotFoundError, NotADirectoryError):
        return Path(file).parent / "migrations"


def load_dir(directory: Traversable) -> list[Migration]:
    """Every ``.sql`` migration in ``directory``, in version order."""
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
