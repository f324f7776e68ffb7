"""The speed sensor kind on the wire: round trips, and readers/writers from before it."""

from __future__ import annotations

import copy
import json
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas import catalog
from schemas.records import (
    Alert,
    AlertLifecycle,
    BBox,
    CrossingDirection,
    DirectionFilter,
    Point,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Severity,
    alert_id,
    sensor_event_id,
)
from schemas.registry.avro_schema import parse_avro
from schemas.registry.compatibility import Compatibility, compatibility_problems
from schemas.serde import InMemorySchemaResolver, Serde

TS = 1_700_000_000_000_000
SPEED_FIELDS = ("distance_m", "speed_kmh_threshold", "max_seconds", "speed_kmh")

CONFIG = SensorConfig(
    sensor_id="road-speed",
    camera_id="road",
    kind=SensorKind.SPEED,
    points=(Point(0.3, 0.0), Point(0.3, 1.0), Point(0.7, 0.0), Point(0.7, 1.0)),
    direction=DirectionFilter.A_TO_B,
    labels=("car",),
    updated_ts=TS,
    distance_m=20.0,
    speed_kmh_threshold=50.0,
    max_seconds=8.0,
)
EVENT = SensorEvent(
    event_id=sensor_event_id("road", "road-speed", "speed", TS, 7, direction="a_to_b"),
    camera_id="road",
    sensor_id="road-speed",
    kind=SensorEventKind.SPEED,
    direction=CrossingDirection.A_TO_B,
    track_id=7,
    label="car",
    score=0.8,
    ts=TS,
    dwell_s=1.2,
    anchor=Point(0.75, 0.6),
    bbox=BBox(0.7, 0.5, 0.8, 0.6),
    frame_seq=12,
    speed_kmh=60.0,
)
ALERT = Alert(
    alert_id=alert_id("road", "road-speed", TS, "speed"),
    camera_id="road",
    sensor_id="road-speed",
    kind=SensorEventKind.SPEED,
    rule=SensorKind.SPEED,
    lifecycle=AlertLifecycle.NEW,
    severity=Severity.HIGH,
    label="car",
    top_score=0.8,
    start_ts=TS,
    updated_ts=TS,
    track_ids=(7,),
    event_count=1,
    direction=CrossingDirection.A_TO_B,
)


def _before_speed(stem: str) -> dict[str, Any]:
    """The schema as it was before the speed kind: no speed fields, no speed symbols."""
    old = copy.deepcopy(dict(catalog.schema_dict(stem)))
    old["fields"] = [f for f in old["fields"] if f["name"] not in SPEED_FIELDS]
    for field in old["fields"]:
        branch = field["type"]
        if isinstance(branch, dict) and branch.get("type") == "enum":
            branch["symbols"] = [s for s in branch["symbols"] if s != "speed"]
    return old


@pytest.mark.parametrize(
    ("topic", "record"),
    [(catalog.CONFIG_SENSORS, CONFIG), (catalog.SENSOR_EVENTS, EVENT), (catalog.ALERTS, ALERT)],
)
def test_speed_records_round_trip(topic: str, record: Any) -> None:
    codec = Serde(InMemorySchemaResolver()).topic(topic, type(record))
    assert codec.decode(codec.encode(record)) == record


@pytest.mark.parametrize("stem", ["SensorConfig", "SensorEvent", "Alert"])
def test_full_transitive_compatible_with_the_schema_before_speed(stem: str) -> None:
    new = parse_avro(json.dumps(catalog.schema_dict(stem)))
    old = parse_avro(json.dumps(_before_speed(stem)))
    assert old != new
    assert compatibility_problems(Compatibility.FULL_TRANSITIVE, new, [(1, old)]) == []


def test_an_event_written_before_speed_reads_with_no_speed() -> None:
    resolver = InMemorySchemaResolver()
    old = _before_speed("SensorEvent")
    schema_id = resolver.add(json.dumps(old))
    datum = {k: v for k, v in EVENT.to_avro().items() if k != "speed_kmh"}
    datum["kind"] = "line_cross"
    buf = BytesIO()
    buf.write(b"\x00" + schema_id.to_bytes(4, "big"))
    schemaless_writer(buf, parse_schema(old), datum)
    event = Serde(resolver).topic(catalog.SENSOR_EVENTS, SensorEvent).decode(buf.getvalue())
    assert event.kind is SensorEventKind.LINE_CROSS and event.speed_kmh is None


def test_a_reader_from_before_speed_sees_an_unknown_kind() -> None:
    """What an older consumer gets from a speed event: kind unknown, the rest as written."""
    buf = BytesIO()
    schemaless_writer(buf, parse_schema(dict(catalog.schema_dict("SensorEvent"))), EVENT.to_avro())
    buf.seek(0)
    old = parse_schema(_before_speed("SensorEvent"))
    current = parse_schema(dict(catalog.schema_dict("SensorEvent")))
    datum = schemaless_reader(buf, current, old)
    assert isinstance(datum, dict)
    assert datum["kind"] == "unknown" and datum["direction"] == "a_to_b"
    assert "speed_kmh" not in datum and datum["track_id"] == 7
