"""The encoding of the registry's records in the ``_schemas`` topic."""

from __future__ import annotations

import json

import pytest

from schemas.registry.compatibility import Compatibility
from schemas.registry.errors import CorruptLogError
from schemas.registry.events import (
    ConfigDeleted,
    ConfigSet,
    LogMarker,
    ModeDeleted,
    ModeSet,
    Record,
    SchemaRegistered,
    SubjectDeleted,
    VersionDeleted,
    decode,
    encode,
)
from schemas.registry.references import Reference

RECORDS: list[Record] = [
    SchemaRegistered("vidsight.frames-value", 3, 12, '{"type":"string"}'),
    VersionDeleted("a", 2),
    VersionDeleted("a", 2, permanent=True),
    SubjectDeleted("a"),
    SubjectDeleted("a", permanent=True),
    ConfigSet(None, Compatibility.FULL),
    ConfigSet("a", Compatibility.NONE),
    ConfigDeleted(None),
    ConfigDeleted("a"),
    LogMarker("0123abcd"),
    SchemaRegistered(
        "top-value", 1, 13, '{"type":"record"}', references=(Reference("com.x.S", "s-value", 2),)
    ),
    ModeSet("a/b", "READWRITE"),
    ModeDeleted("a/b"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_round_trip(record: Record) -> None:
    _, value = encode(record)
    assert decode(value) == record


def test_subject_records_are_keyed_by_subject_and_global_ones_are_not() -> None:
    assert encode(SchemaRegistered("s-value", 1, 1, '"int"'))[0] == b"s-value"
    assert encode(ConfigSet(None, Compatibility.FULL))[0] is None
    assert encode(LogMarker("x"))[0] is None


def test_value_is_readable_json() -> None:
    _, value = encode(SchemaRegistered("s", 1, 7, '"int"'))
    assert json.loads(value) == {
        "type": "SchemaRegistered",
        "format": 1,
        "subject": "s",
        "version": 1,
        "id": 7,
        "schemaType": "AVRO",
        "schema": '"int"',
    }


def test_references_are_stored_only_when_there_are_some() -> None:
    _, value = encode(SchemaRegistered("s", 1, 7, '"int"', references=(Reference("n", "t", 3),)))
    assert json.loads(value)["references"] == [{"name": "n", "subject": "t", "version": 3}]


def test_a_registration_written_before_references_existed_still_loads() -> None:
    old = (
        b'{"type":"SchemaRegistered","format":1,"subject":"s","version":1,"id":7,'
        b'"schemaType":"AVRO","schema":"\\"int\\""}'
    )
    assert decode(old) == SchemaRegistered("s", 1, 7, '"int"', "AVRO", ())


@pytest.mark.parametrize(
    "value",
    [
        b'{"type": "SchemaRegistered", "format": 1, "subject": "a", "version": 1, "id": 1, '
        b'"schemaType": "AVRO", "schema": "x", "references": {"name": "n"}}',
        b'{"type": "SchemaRegistered", "format": 1, "subject": "a", "version": 1, "id": 1, '
        b'"schemaType": "AVRO", "schema": "x", "references": [{"name": "n", "subject": "s"}]}',
        b'{"type": "ModeSet", "format": 1, "subject": "a"}',
        b"not json",
        b"[]",
        b'{"type": "SchemaRegistered", "format": 2}',
        b'{"type": "Unknown", "format": 1}',
        b'{"type": "VersionDeleted", "format": 1, "subject": "a", "version": true, '
        b'"permanent": false}',
        # No id: a registration without its id cannot be replayed.
        b'{"type": "SchemaRegistered", "format": 1, "subject": "a", "version": 1, '
        b'"schemaType": "AVRO", "schema": "x"}',
        b'{"type": "ConfigSet", "format": 1, "subject": null, "compatibility": "SIDEWAYS"}',
    ],
)
def test_records_this_version_cannot_trust_are_refused(value: bytes) -> None:
    with pytest.raises(CorruptLogError):
        decode(value)
