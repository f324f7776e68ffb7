"""The registry's state changes as records, and their encoding in the ``_schemas`` topic.

The topic is an event log, read whole on start: the state is exactly the fold of these records
in offset order (``RegistryState.apply``). Values are JSON objects with a ``type`` and a
``format`` number, so a newer registry can add record types and an older one refuses them
loudly instead of building a wrong state. Keys are the subject name (UTF-8) for subject-scoped
records and absent for global ones; with one partition, order is total either way.

``SchemaRegistered`` carries ``references`` only when the schema has some, so records without
references are written exactly as before and records of older registries still load.

Ids travel inside ``SchemaRegistered`` on purpose: replay must give every schema the id it was
first given, independent of how the state decides ids for new registrations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from schemas.registry.compatibility import Compatibility
from schemas.registry.errors import CorruptLogError, InvalidCompatibilityLevelError
from schemas.registry.references import Reference

FORMAT = 1


@dataclass(frozen=True, slots=True)
class SchemaRegistered:
    """``schema`` (canonical text) became ``version`` of ``subject`` under ``schema_id``."""

    subject: str
    version: int
    schema_id: int
    schema: str
    schema_type: str = "AVRO"
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True, slots=True)
class VersionDeleted:
    """One version was soft-deleted (hidden) or, when ``permanent``, removed for good."""

    subject: str
    version: int
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class SubjectDeleted:
    """Every live version was soft-deleted, or when ``permanent`` the subject was removed."""

    subject: str
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class ConfigSet:
    """The compatibility level of ``subject`` (the global default when None) was set."""

    subject: str | None
    compatibility: Compatibility


@dataclass(frozen=True, slots=True)
class ConfigDeleted:
    """The level of ``subject`` was removed (it follows the global one again); None = global."""

    subject: str | None


@dataclass(frozen=True, slots=True)
class ModeSet:
    """The mode of ``subject`` was set (READWRITE, the one mode this registry offers)."""

    subject: str
    mode: str


@dataclass(frozen=True, slots=True)
class ModeDeleted:
    """The mode of ``subject`` was removed: it follows the global mode again."""

    subject: str


@dataclass(frozen=True, slots=True)
class LogMarker:
    """Not a state change: a unique record the registry writes and reads back to find the end
    of the log, because the local broker's high watermark cannot be trusted."""

    token: str


Event = (
    SchemaRegistered
    | VersionDeleted
    | SubjectDeleted
    | ConfigSet
    | ConfigDeleted
    | ModeSet
    | ModeDeleted
)
Record = Event | LogMarker


def encode(record: Record) -> tuple[bytes | None, bytes]:
    """Kafka (key, value) for one record."""
    body: dict[str, Any]
    match record:
        case SchemaRegistered():
            body = {
                "subject": record.subject,
                "version": record.version,
                "id": record.schema_id,
                "schemaType": record.schema_type,
                "schema": record.schema,
            }
            if record.references:
                body["references"] = [ref.to_json() for ref in record.references]
        case VersionDeleted():
            body = {
                "subject": record.subject,
                "version": record.version,
                "permanent": record.permanent,
            }
        case SubjectDeleted():
            body = {"subject": record.subject, "permanent": record.permanent}
        case ConfigSet():
            body = {"subject": record.subject, "compatibility": record.compatibility.value}
        case ConfigDeleted() | ModeDeleted():
            body = {"subject": record.subject}
        case ModeSet():
            body = {"subject": record.subject, "mode": record.mode}
        case LogMarker():
            body = {"token": record.token}
    value = {"type": type(record).__name__, "format": FORMAT, **body}
    subject = body.get("subject")
    key = subject.encode() if isinstance(subject, str) else None
    return key, json.dumps(value, separators=(",", ":")).encode()


def _get(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    # bool is an int in Python; a version or an id must not be a JSON true/false.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CorruptLogError(f"field {name!r} is missing or of the wrong type: {value!r}")
    return value


def _references(value: object) -> tuple[Reference, ...]:
    if not isinstance(value, list):
        raise CorruptLogError(f"field 'references' is not a list: {value!r}")
    refs = []
    for item in value:
        if not isinstance(item, dict):
            raise CorruptLogError(f"a reference is not an object: {item!r}")
        refs.append(
            Reference(
                _get(item, "name", str), _get(item, "subject", str), _get(item, "version", int)
            )
        )
    return tuple(refs)


def decode(value: bytes) -> Record:
    """The record in a Kafka value; CorruptLogError when it is not one this version knows."""
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptLogError(f"record is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise CorruptLogError("record is not a JSON object")
    if body.get("format") != FORMAT:
        raise CorruptLogError(f"record format {body.get('format')!r} is not {FORMAT}")
    optional_subject = (str, type(None))
    match body.get("type"):
        case "SchemaRegistered":
            return SchemaRegistered(
                subject=_get(body, "subject", str),
                version=_get(body, "version", int),
                schema_id=_get(body, "id", int),
                schema=_get(body, "schema", str),
                schema_type=_get(body, "schemaType", str),
                references=_references(body.get("references", [])),
            )
        case "VersionDeleted":
            return VersionDeleted(
                subject=_get(body, "subject", str),
                version=_get(body, "version", int),
                permanent=_get(body, "permanent", bool),
            )
        case "SubjectDeleted":
            return SubjectDeleted(
                subject=_get(body, "subject", str), permanent=_get(body, "permanent", bool)
            )
        case "ConfigSet":
            try:
                level = Compatibility.parse(body.get("compatibility"))
            except InvalidCompatibilityLevelError as exc:
                raise CorruptLogError(str(exc)) from exc
            return ConfigSet(subject=_get(body, "subject", optional_subject), compatibility=level)
        case "ConfigDeleted":
            return ConfigDeleted(subject=_get(body, "subject", optional_subject))
        case "ModeSet":
            return ModeSet(subject=_get(body, "subject", str), mode=_get(body, "mode", str))
        case "ModeDeleted":
            return ModeDeleted(subject=_get(body, "subject", str))
        case "LogMarker":
            return LogMarker(token=_get(body, "token", str))
        case other:
            raise CorruptLogError(f"unknown record type {other!r}")
