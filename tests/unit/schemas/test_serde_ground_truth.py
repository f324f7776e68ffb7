"""``ground_truth`` became a DetectorKind symbol: the registry takes the change, old records
(``unknown`` + option ``plugin``) still read as ground truth, and older readers get ``unknown``."""

from __future__ import annotations

import copy
import io
import json
from types import MappingProxyType
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from producers.config import Camera, from_record, to_record
from schemas import catalog
from schemas.records import CameraConfig, DetectorKind, DetectorSpec
from schemas.registry.avro_schema import parse_avro
from schemas.registry.compatibility import Compatibility, compatibility_problems
from schemas.serde import InMemorySchemaResolver, Serde

SIM = Camera(
    camera_id="sim-0",
    name="sim-0",
    source="synthetic:crossing?seed=3",
    fps=2.0,
    detector_kind="ground_truth",
    detector_options=MappingProxyType({}),
)


def _before_the_symbol() -> dict[str, Any]:
    """CameraConfig as registered before ``ground_truth`` was a symbol."""
    schema = copy.deepcopy(dict(catalog.schema_dict("CameraConfig")))
    (detector,) = (f for f in schema["fields"] if f["name"] == "detector")
    (kind,) = (f for f in detector["type"]["fields"] if f["name"] == "kind")
    kind["type"]["symbols"].remove("ground_truth")
    return schema


@pytest.mark.parametrize(
    "level",
    [Compatibility.BACKWARD, Compatibility.FORWARD, Compatibility.FULL_TRANSITIVE],
)
def test_the_registry_accepts_the_new_symbol(level: Compatibility) -> None:
    new = parse_avro(catalog.schema_text("CameraConfig"))
    old = parse_avro(json.dumps(_before_the_symbol()))
    assert compatibility_problems(level, new, [(1, old)]) == []


def test_ground_truth_cameras_are_published_with_the_symbol() -> None:
    record = to_record(SIM, updated_ts=1)
    assert record.detector == DetectorSpec(kind=DetectorKind.GROUND_TRUTH)
    serde = Serde(InMemorySchemaResolver())
    decoded = serde.decode(catalog.CONFIG_CAMERAS, serde.encode(catalog.CONFIG_CAMERAS, record))
    assert isinstance(decoded, CameraConfig) and from_record(decoded) == SIM


def test_records_written_before_the_symbol_still_read_as_ground_truth() -> None:
    resolver = InMemorySchemaResolver()
    old_id = resolver.add(json.dumps(_before_the_symbol()))
    current = Serde(resolver).topic(catalog.CONFIG_CAMERAS, CameraConfig)
    old = to_record(SIM, updated_ts=1)
    old_datum = old.to_avro()
    old_datum["detector"] = {"kind": "unknown", "options": {"plugin": "ground_truth"}}
    # The bytes an old writer made: its schema id, then the datum in its own layout.
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(_before_the_symbol()), old_datum)
    data = b"\x00" + old_id.to_bytes(4, "big") + body.getvalue()
    decoded = current.decode(data)
    assert decoded.detector.kind is DetectorKind.UNKNOWN
    assert from_record(decoded) == SIM


def test_a_reader_older_than_the_symbol_gets_unknown() -> None:
    serde = Serde(InMemorySchemaResolver())
    data = serde.encode(catalog.CONFIG_CAMERAS, to_record(SIM, updated_ts=1))
    writer = parse_schema(dict(catalog.schema_dict("CameraConfig")))
    reader = parse_schema(_before_the_symbol())
    datum: Any = schemaless_reader(io.BytesIO(data[5:]), writer, reader)
    assert datum["detector"]["kind"] == "unknown"
