"""The serde: Confluent framing, round trips of every record type, evolution, caching, errors.

The registry is replaced by ``InMemorySchemaResolver``, the codec's own injection point (ids
to schemas in a dict); the real registry is exercised by tests/integration/test_serde.py.
"""

from __future__ import annotations

import json
from io import BytesIO
from types import MappingProxyType
from typing import Any, TypeVar

import avro.io
import avro.schema
import pytest
from fastavro import schemaless_reader

from schemas import catalog
from schemas.errors import (
    RegistryUnavailableError,
    SchemaError,
    SerializationError,
    UnknownTopicError,
)
from schemas.records import (
    Alert,
    AlertLifecycle,
    AvroRecord,
    BBox,
    CameraConfig,
    CrossingDirection,
    DetectedObject,
    Detections,
    DetectorKind,
    DetectorSpec,
    DirectionFilter,
    Feedback,
    FrameRef,
    HealthState,
    Heartbeat,
    Point,
    RecordingMode,
    RecordingSegment,
    RecordSettings,
    Schedule,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Severity,
    TimeWindow,
    Verdict,
    alert_id,
    detections_event_id,
    feedback_id,
    frame_event_id,
    from_micros,
    heartbeat_id,
    node_key,
    recording_segment_id,
    sensor_event_id,
)
from schemas.serde import InMemorySchemaResolver, Serde

TS = 1_700_000_000_123_456
BOX = BBox(0.1, 0.2, 0.35, 0.9)
AID = alert_id("gate-1", "gate-1-line", TS)


def samples() -> dict[str, list[AvroRecord]]:
    """Per topic: a record with every optional field set and one with the minimum."""
    return {
        catalog.FRAMES: [
            FrameRef(
                event_id=frame_event_id("gate-1", TS, 42),
                camera_id="gate-1",
                frame_ts=TS,
                seq=42,
                width=1920,
                height=1080,
                motion_score=0.031,
            ),
            FrameRef(
                event_id=frame_event_id("gate-1", TS, 43),
                camera_id="gate-1",
                frame_ts=TS,
                seq=43,
                width=640,
                height=480,
                motion_score=0.5,
                analysed=True,
                object_count=2,
                evidence_uri="s3://vidsight/evidence/gate-1/2023/11/14/22/1.jpg",
                evidence_bytes=123_456,
                evidence_sha256="ab" * 32,
            ),
        ],
        catalog.DETECTIONS: [
            Detections(
                event_id=detections_event_id("gate-1", TS, 42),
                camera_id="gate-1",
                frame_ts=TS,
                seq=42,
                model="onnx:yolo11n",
                objects=tuple(
                    DetectedObject(track_id=i, label="person", score=0.5 + i / 10, bbox=BOX)
                    for i in range(3)
                ),
                evidence_uri="s3://vidsight/evidence/gate-1/x.jpg",
            ),
            Detections(
                event_id=detections_event_id("cam-ü", 0, 0),
                camera_id="cam-ü",
                frame_ts=0,
                seq=0,
                model="motion",
                objects=(),
            ),
        ],
        catalog.SENSOR_EVENTS: [
            SensorEvent(
                event_id=sensor_event_id("gate-1", "gate-1-line", "line_cross", TS, 7),
                camera_id="gate-1",
                sensor_id="gate-1-line",
                kind=SensorEventKind.LINE_CROSS,
                direction=CrossingDirection.A_TO_B,
                track_id=7,
                label="person",
                score=0.91,
                ts=TS,
                count=12,
                dwell_s=3.5,
                anchor=Point(0.5, 0.9),
                bbox=BOX,
                frame_seq=42,
                evidence_uri="s3://vidsight/evidence/gate-1/x.jpg",
            ),
            SensorEvent(
                event_id=sensor_event_id("gate-1", "yard", "occupancy", TS, None),
                camera_id="gate-1",
                sensor_id="yard",
                kind=SensorEventKind.OCCUPANCY,
                label="*",
                score=0.0,
                ts=TS,
                frame_seq=1,
            ),
        ],
        catalog.ALERTS: [
            Alert(
                alert_id=AID,
                camera_id="gate-1",
                sensor_id="gate-1-line",
                kind=SensorEventKind.LINE_CROSS,
                rule=SensorKind.TRIPWIRE,
                lifecycle=AlertLifecycle.END,
                revision=3,
                severity=Severity.HIGH,
                label="car",
                top_score=0.97,
                start_ts=TS,
                end_ts=TS + 5_000_000,
                updated_ts=TS + 35_000_000,
                evidence_uri="s3://vidsight/evidence/gate-1/x.jpg",
                track_ids=(7, 9),
                event_count=4,
                direction=CrossingDirection.B_TO_A,
                bbox=BOX,
            ),
            Alert(
                alert_id=AID,
                camera_id="gate-1",
                sensor_id="gate-1-line",
                kind=SensorEventKind.LOITER,
                rule=SensorKind.LOITERING,
                lifecycle=AlertLifecycle.NEW,
                severity=Severity.LOW,
                label="person",
                top_score=0.6,
                start_ts=TS,
                updated_ts=TS,
                event_count=1,
            ),
        ],
        catalog.FEEDBACK: [
            Feedback(
                feedback_id=feedback_id(AID, "ana", TS),
                alert_id=AID,
                camera_id="gate-1",
                sensor_id="gate-1-line",
                verdict=Verdict.FALSE_POSITIVE,
                operator="ana",
                ts=TS,
                note="a flag in the wind",
                boxes=(BOX, BBox(0.0, 0.0, 1.0, 1.0)),
            ),
            Feedback(
                feedback_id=feedback_id(AID, "bo", TS),
                alert_id=AID,
                camera_id="gate-1",
                sensor_id="s",
                verdict=Verdict.TRUE_POSITIVE,
                operator="bo",
                ts=TS,
            ),
        ],
        catalog.CONFIG_CAMERAS: [
            CameraConfig(
                camera_id="gate-1",
                name="Main gate",
                source="rtsp://10.0.0.5/stream1",
                fps=5.0,
                detector=DetectorSpec(
                    kind=DetectorKind.ONNX,
                    options=MappingProxyType(
                        {
                            "model": "/models/yolo11n.onnx",
                            "min_area": 0.002,
                            "max_det": 100,
                            "agnostic": True,
                            "providers": ("CPUExecutionProvider",),
                            "unset": None,
                        }
                    ),
                ),
                enabled=False,
                updated_ts=TS,
                record=RecordSettings(mode=RecordingMode.EVENTS, pre_s=3.0, post_s=8.0),
            ),
            CameraConfig(
                camera_id="c",
                name="c",
                source="synthetic:street",
                fps=1.0,
                detector=DetectorSpec(kind=DetectorKind.MOTION),
                updated_ts=TS,
            ),
        ],
        catalog.CONFIG_SENSORS: [
            SensorConfig(
                sensor_id="gate-1-line",
                camera_id="gate-1",
                name="Gate line",
                kind=SensorKind.TRIPWIRE,
                points=(Point(0.5, 0.0), Point(0.5, 1.0)),
                direction=DirectionFilter.A_TO_B,
                labels=("person", "car"),
                min_score=0.4,
                min_area=0.001,
                max_area=0.5,
                min_ratio=0.2,
                max_ratio=5.0,
                seconds=30.0,
                schedule=Schedule(
                    days=(1, 2, 3, 4, 5),
                    hours=(TimeWindow(22 * 60, 6 * 60),),
                    timezone="Europe/Paris",
                ),
                severity=Severity.CRITICAL,
                group_gap_s=10.0,
                inertia_frames=3,
                occupancy_threshold=5,
                enabled=False,
                updated_ts=TS,
            ),
            SensorConfig(
                sensor_id="yard",
                camera_id="gate-1",
                kind=SensorKind.ZONE,
                points=(Point(0.1, 0.1), Point(0.9, 0.1), Point(0.9, 0.9)),
                updated_ts=TS,
            ),
        ],
        catalog.RECORDINGS: [
            RecordingSegment(
                segment_id=recording_segment_id("gate-1", TS),
                camera_id="gate-1",
                start_ts=TS,
                end_ts=TS + 10_000_000,
                uri=f"s3://vidsight/recordings/gate-1/2023/11/14/22/{TS}.mp4",
                bytes=1_234_567,
                sha256="cd" * 32,
                codec="h264",
                width=1920,
                height=1080,
                packets=250,
                keyframe_start=True,
                mode=RecordingMode.EVENTS,
            ),
        ],
        catalog.HEALTH: [
            Heartbeat(
                heartbeat_id=heartbeat_id("edge-a", "gate-1", TS),
                node_id="edge-a",
                site="north",
                camera_id="gate-1",
                state=HealthState.STREAMING,
                configured_fps=5.0,
                decoded_fps=25.0,
                analysed_fps=4.9,
                frames_decoded=12_000,
                frames_analysed=2_400,
                decode_errors=2,
                reconnects=1,
                last_frame_ts=TS - 40_000,
                detector_latency_ms=12.5,
                error=None,
                interval_s=5.0,
                ts=TS,
            ),
            Heartbeat(
                heartbeat_id=heartbeat_id("edge-a", None, TS),
                node_id="edge-a",
                state=HealthState.STOPPED,
                spool_depth=17,
                spool_evictions=0,
                evidence_backlog=3,
                interval_s=5.0,
                ts=TS,
            ),
        ],
    }


def test_heartbeat_keys() -> None:
    """Camera heartbeats are keyed by camera id, a node's own by node:<id>."""
    camera, node = samples()[catalog.HEALTH]
    assert isinstance(camera, Heartbeat) and isinstance(node, Heartbeat)
    assert camera.key == "gate-1"
    assert node.key == node_key("edge-a") == "node:edge-a"


T = TypeVar("T")


def _of(topic: str, cls: type[T]) -> list[T]:
    """The samples of one topic, typed."""
    return [r for r in samples()[topic] if isinstance(r, cls)]


CASES = [(topic, record) for topic, records in samples().items() for record in records]
CASE_IDS = [f"{topic}-{i % 2}" for i, (topic, _) in enumerate(CASES)]


@pytest.fixture
def resolver() -> InMemorySchemaResolver:
    return InMemorySchemaResolver()


@pytest.fixture
def serde(resolver: InMemorySchemaResolver) -> Serde:
    return Serde(resolver)


def test_samples_cover_every_avro_topic() -> None:
    assert set(samples()) == {spec.name for spec in catalog.CATALOG if spec.value_schema}


@pytest.mark.parametrize(("topic", "record"), CASES, ids=CASE_IDS)
def test_round_trip(serde: Serde, topic: str, record: AvroRecord) -> None:
    data = serde.encode(topic, record)
    decoded = serde.decode(topic, data)
    assert decoded == record
    assert type(decoded) is type(record)


@pytest.mark.parametrize(("topic", "record"), CASES, ids=CASE_IDS)
def test_bytes_are_confluent_framed_avro_other_readers_understand(
    serde: Serde, resolver: InMemorySchemaResolver, topic: str, record: AvroRecord
) -> None:
    data = serde.encode(topic, record)
    stem = record.SCHEMA
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    assert resolver.subjects[f"{topic}-value"] == [schema_id]
    assert json.loads(resolver.schema_by_id(schema_id)) == catalog.schema_dict(stem)
    # fastavro with the registered schema (logical types on) reads the same values
    with_logical: Any = schemaless_reader(BytesIO(data[5:]), catalog.load_schema(stem), None)
    for name, value in record.to_avro().items():
        if name == "ts" or name.endswith("_ts"):
            assert with_logical[name] == (None if value is None else from_micros(value))
        elif name in ("event_id", "alert_id", "feedback_id"):
            assert str(with_logical[name]) == value
    # and so does the Apache Avro implementation
    reader = avro.io.DatumReader(avro.schema.parse(catalog.schema_text(stem)))
    other: Any = reader.read(avro.io.BinaryDecoder(BytesIO(data[5:])))
    assert other["camera_id"] == record.to_avro()["camera_id"]


def test_datum_level_round_trip(serde: Serde) -> None:
    record = _of(catalog.DETECTIONS, Detections)[0]
    codec = serde.topic(catalog.DETECTIONS, Detections)
    assert codec.decode_datum(codec.encode_datum(record.to_avro())) == record.to_avro()
    assert codec.encode_datum(record.to_avro()) == codec.encode(record)


def test_batches_round_trip_in_order(serde: Serde) -> None:
    codec = serde.topic(catalog.DETECTIONS, Detections)
    records = _of(catalog.DETECTIONS, Detections) * 5
    assert codec.decode_many(codec.encode_many(records)) == records
    values = serde.encode_many(catalog.DETECTIONS, records)
    assert serde.decode_many(catalog.DETECTIONS, values) == records


def test_schema_is_resolved_once_per_id() -> None:
    calls: list[str] = []

    class Counting(InMemorySchemaResolver):
        def schema_by_id(self, schema_id: int) -> str:
            calls.append(f"by_id {schema_id}")
            return super().schema_by_id(schema_id)

        def id_for(self, subject: str, schema_text: str) -> int:
            calls.append(f"id_for {subject}")
            return super().id_for(subject, schema_text)

    resolver = Counting()
    writer = Serde(resolver).topic(catalog.FRAMES, FrameRef)
    reader = Serde(resolver).topic(catalog.FRAMES, FrameRef)
    values = writer.encode_many(_of(catalog.FRAMES, FrameRef) * 10)
    reader.decode_many(values)
    assert calls == ["id_for vidsight.frames-value", "by_id 1"]


def test_tombstones(serde: Serde) -> None:
    codec = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    assert codec.decode_or_tombstone(None) is None
    with pytest.raises(SerializationError, match=r"tombstone.*offset=9"):
        codec.decode(None, partition=0, offset=9)


def test_topic_and_record_type_must_match(serde: Serde) -> None:
    with pytest.raises(SchemaError, match="FrameRef"):
        serde.topic(catalog.DETECTIONS, FrameRef)
    with pytest.raises(SchemaError, match="raw bytes"):
        serde.topic(catalog.DLQ)
    with pytest.raises(UnknownTopicError):
        serde.topic("vidsight.nope")


def test_encoding_a_bad_datum_is_a_serialization_error(serde: Serde) -> None:
    codec = serde.topic(catalog.FRAMES, FrameRef)
    with pytest.raises(SerializationError, match=r"cannot encode FrameRef.*topic=vidsight\.frames"):
        codec.encode_datum({"camera_id": "x"})
    bad = FrameRef(
        event_id="id",
        camera_id="c",
        frame_ts=TS,
        seq=1,
        width=1,
        height=1,
        motion_score="not a number",  # type: ignore[arg-type]
    )
    with pytest.raises(SerializationError):
        codec.encode(bad)


def test_registry_outage_is_not_a_serialization_error() -> None:
    class Down(InMemorySchemaResolver):
        def schema_by_id(self, schema_id: int) -> str:
            raise RegistryUnavailableError("registry down")

    writer = Serde(InMemorySchemaResolver()).topic(catalog.FRAMES, FrameRef)
    data = writer.encode(_of(catalog.FRAMES, FrameRef)[0])
    with pytest.raises(RegistryUnavailableError):
        Serde(Down()).decode(catalog.FRAMES, data, partition=1, offset=2)
