"""What the registry's state answers with: versions, schemas, registrations (plain records)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.registry.errors import InvalidVersionError
from schemas.registry.events import SchemaRegistered
from schemas.registry.references import Reference

LATEST = -1
_MAX_VERSION = 2**31 - 1


def parse_version(text: str) -> int:
    """A version path segment: ``latest`` or -1 give LATEST, else an int in [1, 2^31-1]."""
    if text.strip().lower() == "latest":
        return LATEST
    try:
        version = int(text)
    except ValueError:
        raise InvalidVersionError(text) from None
    if version == LATEST or 1 <= version <= _MAX_VERSION:
        return version
    raise InvalidVersionError(text)


@dataclass(frozen=True, slots=True)
class StoredSchema:
    schema_id: int
    schema_type: str
    schema: str
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True, slots=True)
class SubjectVersion:
    subject: str
    version: int
    schema_id: int
    schema_type: str
    schema: str
    deleted: bool
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of a registration; ``event`` is None when nothing needs writing."""

    schema_id: int
    version: int
    event: SchemaRegistered | None
