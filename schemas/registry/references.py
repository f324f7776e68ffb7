"""Schema references: a schema that uses named types registered under other subjects.

Confluent's model: a registration may carry ``references``, each naming a type (for Avro the
full name of the referenced record, enum or fixed), the subject and the version that defines
it. The referenced schemas are parsed first, so their named types are known when the schema
itself is parsed; the stored schema keeps only the name, never a copy of the referenced type.
Shared record types across topics need this.

Pure: the lookup of a (subject, version) is passed in by the state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.registry.errors import InvalidSchemaError

LATEST_REFERENCE = -1
# How many schemas a reference chain may pull in (each parsed before the schema itself).
MAX_REFERENCED_SCHEMAS = 1000


@dataclass(frozen=True, slots=True, order=True)
class Reference:
    """``name`` is defined by ``version`` of ``subject``."""

    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


@dataclass(frozen=True, slots=True)
class ReferencedSchema:
    """What a reference resolves to: the referenced schema's text and its own references."""

    schema: str
    references: tuple[Reference, ...]


def parse_references(value: object) -> tuple[Reference, ...]:
    """The ``references`` of a request body (absent or null = none); 42201 when malformed."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidSchemaError("Invalid schema: 'references' must be a list")
    references = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidSchemaError(f"Invalid schema: reference {index} is not an object")
        name, subject, version = item.get("name"), item.get("subject"), item.get("version")
        if not isinstance(name, str) or not name or not isinstance(subject, str) or not subject:
            raise InvalidSchemaError(
                f"Invalid schema: reference {index} needs a 'name' and a 'subject' string"
            )
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidSchemaError(f"Invalid schema: reference {index} needs a 'version' int")
        if version != LATEST_REFERENCE and version < 1:
            raise InvalidSchemaError(
                f"Invalid schema: reference {index} has version {version}; versions start at 1"
            )
        references.append(Reference(name, subject, version))
    return tuple(references)


def pin(ref: Reference, live: list[int], existing: list[int]) -> Reference:
    """``ref`` with version -1 replaced by the newest of ``live`` versions of its subject;
    42201 when the version it names is not among ``existing`` (soft-deleted included)."""
    if ref.version == LATEST_REFERENCE and live:
        return Reference(ref.name, ref.subject, live[-1])
    if ref.version != LATEST_REFERENCE and ref.version in existing:
        return ref
    raise InvalidSchemaError(
        f"Invalid schema: reference {ref.name!r} names subject {ref.subject!r} version "
        f"{ref.version}, which does not exist"
    )


def dependencies(
    references: Sequence[Reference], lookup: Callable[[Reference], ReferencedSchema]
) -> list[str]:
    """The texts of every schema ``references`` pull in, each after the ones it needs itself
    (the order a parser must see them in), each once."""
    ordered: list[str] = []
    done: set[tuple[str, int]] = set()
    # Depth-first without recursion: (reference, expanded) pairs; a reference is emitted once
    # all of its own references are.
    stack = [(ref, False) for ref in reversed(references)]
    path: set[tuple[str, int]] = set()
    while stack:
        ref, expanded = stack.pop()
        key = (ref.subject, ref.version)
        if expanded:
            path.discard(key)
            if key not in done:
                done.add(key)
                ordered.append(lookup(ref).schema)
            continue
        if key in done:
            continue
        if key in path:
            raise InvalidSchemaError(
                f"Invalid schema: references form a cycle at {ref.subject} version {ref.version}"
            )
        if len(done) + len(path) >= MAX_REFERENCED_SCHEMAS:
            raise InvalidSchemaError(
                f"Invalid schema: references pull in more than {MAX_REFERENCED_SCHEMAS} schemas"
            )
        path.add(key)
        stack.append((ref, True))
        stack.extend((inner, False) for inner in reversed(lookup(ref).references))
    return ordered
