"""Schema evolution: events written with an older (or newer) compatible schema still decode."""

from __future__ import annotations

import copy
import json
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_writer

from schemas import catalog
from schemas.records import Detections, FrameRef, SensorEvent, SensorEventKind, sensor_event_id
from schemas.serde import InMemorySchemaResolver, Serde

TS = 1_700_000_000_000_000
ADDED_IN_V2 = ("analysed", "object_count", "evidence_uri", "evidence_bytes", "evidence_sha256")


def _frame_v1() -> dict[str, Any]:
    """FrameRef as it might have been before the defaulted fields were added."""
    v1 = copy.deepcopy(dict(catalog.schema_dict("FrameRef")))
    v1["fields"] = [f for f in v1["fields"] if f["name"] not in ADDED_IN_V2]
    return v1


def _writer_for(resolver: InMemorySchemaResolver, schema: dict[str, Any]) -> Any:
    """A TopicSerde-like encoder writing with ``schema`` (an old or future producer)."""
    schema_id = resolver.add(json.dumps(schema))
    parsed = parse_schema(schema)

    def encode(datum: dict[str, Any]) -> bytes:
        buf = BytesIO()
        buf.write(b"\x00" + schema_id.to_bytes(4, "big"))
        schemaless_writer(buf, parsed, datum)
        return buf.getvalue()

    return encode


def test_v1_event_decodes_with_v2_reader_and_gets_the_defaults() -> None:
    resolver = InMemorySchemaResolver()
    encode_v1 = _writer_for(resolver, _frame_v1())
    old = encode_v1(
        {
            "event_id": "5f0c5f6e-2d0a-5a53-8b5d-0a1f1e0d9c11",
            "camera_id": "gate-1",
            "frame_ts": TS,
            "seq": 9,
            "width": 640,
            "height": 480,
            "motion_score": 0.25,
        }
    )
    codec = Serde(resolver).topic(catalog.FRAMES, FrameRef)
    frame = codec.decode(old, partition=3, offset=100)
    assert frame == FrameRef(
        event_id="5f0c5f6e-2d0a-5a53-8b5d-0a1f1e0d9c11",
        camera_id="gate-1",
        frame_ts=TS,
        seq=9,
        width=640,
        height=480,
        motion_score=0.25,
    )
    assert frame.analysed is False and frame.evidence_uri is None
    # new events of the same topic use the current schema under its own id
    new = codec.encode(frame)
    assert new[1:5] != old[1:5]
    assert codec.decode_many([old, new, old]) == [frame, frame, frame]


def test_symbol_added_by_a_newer_writer_reads_as_unknown() -> None:
    future = copy.deepcopy(dict(catalog.schema_dict("SensorEvent")))
    kind = next(f for f in future["fields"] if f["name"] == "kind")
    kind["type"]["symbols"].insert(-1, "zone_dwell")
    future["fields"].append({"name": "confidence_band", "type": "string", "default": "n/a"})
    resolver = InMemorySchemaResolver()
    encode_future = _writer_for(resolver, future)
    event_id = sensor_event_id("c", "s", "zone_dwell", TS, 1)
    data = encode_future(
        {
            "event_id": event_id,
            "camera_id": "c",
            "sensor_id": "s",
            "kind": "zone_dwell",
            "track_id": 1,
            "label": "person",
            "score": 0.5,
            "ts": TS,
            "frame_seq": 1,
            "confidence_band": "high",
        }
    )
    event = Serde(resolver).topic(catalog.SENSOR_EVENTS, SensorEvent).decode(data)
    assert event.kind is SensorEventKind.UNKNOWN
    assert event.event_id == event_id and event.track_id == 1


def test_same_schema_in_other_words_takes_the_direct_path() -> None:
    """A registry may hand back our schema re-worded (docs, namespaces, key order): no
    resolution pass is needed then, which is the difference between the two decode speeds."""
    reworded = copy.deepcopy(dict(catalog.schema_dict("Detections")))
    reworded["doc"] = "changed"
    bbox = reworded["fields"][5]["type"]["items"]["fields"][3]["type"]
    bbox["namespace"] = "io.vidsight.v1"
    reworded = dict(reversed(list(reworded.items())))
    resolver = InMemorySchemaResolver()
    schema_id = resolver.add(json.dumps(reworded))
    codec = Serde(resolver).topic(catalog.DETECTIONS, Detections)
    record = Detections(
        event_id="5f0c5f6e-2d0a-5a53-8b5d-0a1f1e0d9c11",
        camera_id="c",
        frame_ts=TS,
        seq=1,
        model="hog",
        objects=(),
    )
    data = b"\x00" + schema_id.to_bytes(4, "big") + codec.encode(record)[5:]
    assert codec.decode(data) == record
    assert codec._plans[schema_id][1] is None  # white-box: no reader schema = no resolution
