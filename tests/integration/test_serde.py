"""Every record type through a real Kafka topic and the real schema registry of the local stack.

Each message is produced alone and read back by assigning its exact partition/offset (the
local broker's end offsets are not to be trusted, see DESIGN.md), so other tests writing to
the same topics do not interfere.
"""

from __future__ import annotations

import copy
import json
import uuid
from io import BytesIO
from types import MappingProxyType
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from fastavro import parse_schema, schemaless_writer

from schemas import catalog
from schemas.cli import schemas_group
from schemas.errors import IncompatibleSchemaError, SerializationError
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
    Feedback,
    FrameRef,
    Point,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Severity,
    Verdict,
    alert_id,
    detections_event_id,
    feedback_id,
    frame_event_id,
    sensor_event_id,
)
from schemas.registration import check_all, register_all
from schemas.serde import Serde

pytestmark = pytest.mark.integration

TS = 1_700_000_000_000_000
BOX = BBox(0.1, 0.2, 0.3, 0.4)


def _records(camera: str) -> list[tuple[str, AvroRecord]]:
    aid = alert_id(camera, "line", TS)
    return [
        (
            catalog.FRAMES,
            FrameRef(
                event_id=frame_event_id(camera, TS, 1),
                camera_id=camera,
                frame_ts=TS,
                seq=1,
                width=640,
                height=480,
                motion_score=0.2,
            ),
        ),
        (
            catalog.DETECTIONS,
            Detections(
                event_id=detections_event_id(camera, TS, 1),
                camera_id=camera,
                frame_ts=TS,
                seq=1,
                model="onnx:yolo11n",
                objects=tuple(
                    DetectedObject(track_id=i, label="person", score=0.9, bbox=BOX)
                    for i in range(3)
                ),
                evidence_uri="s3://vidsight/evidence/x.jpg",
            ),
        ),
        (
            catalog.SENSOR_EVENTS,
            SensorEvent(
                event_id=sensor_event_id(camera, "line", "line_cross", TS, 1),
                camera_id=camera,
                sensor_id="line",
                kind=SensorEventKind.LINE_CROSS,
                direction=CrossingDirection.A_TO_B,
                track_id=1,
                label="person",
                score=0.9,
                ts=TS,
                anchor=Point(0.5, 0.4),
                bbox=BOX,
                frame_seq=1,
            ),
        ),
        (
            catalog.ALERTS,
            Alert(
                alert_id=aid,
                camera_id=camera,
                sensor_id="line",
                kind=SensorEventKind.LINE_CROSS,
                rule=SensorKind.TRIPWIRE,
                lifecycle=AlertLifecycle.NEW,
                severity=Severity.HIGH,
                label="person",
                top_score=0.9,
                start_ts=TS,
                updated_ts=TS,
                track_ids=(1,),
                event_count=1,
            ),
        ),
        (
            catalog.FEEDBACK,
            Feedback(
                feedback_id=feedback_id(aid, "ana", TS),
                alert_id=aid,
                camera_id=camera,
                sensor_id="line",
                verdict=Verdict.FALSE_POSITIVE,
                operator="ana",
                ts=TS,
                note="flag",
                boxes=(BOX,),
            ),
        ),
        (
            catalog.CONFIG_CAMERAS,
            CameraConfig(
                camera_id=camera,
                name="test",
                source="synthetic:street",
                fps=5.0,
                detector=DetectorSpec(
                    kind=DetectorKind.MOTION, options=MappingProxyType({"min_area": 0.002})
                ),
                updated_ts=TS,
            ),
        ),
        (
            catalog.CONFIG_SENSORS,
            SensorConfig(
                sensor_id=f"{camera}-zone",
                camera_id=camera,
                kind=SensorKind.ZONE,
                points=(Point(0.1, 0.1), Point(0.9, 0.1), Point(0.9, 0.9)),
                updated_ts=TS,
            ),
        ),
    ]


def _produce(bootstrap: str, topic: str, key: str, value: bytes | None) -> tuple[int, int]:
    """Produce one message alone (a batch of one) and return its (partition, offset)."""
    delivered: list[Message] = []
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    producer.produce(
        topic, value=value, key=key, on_delivery=lambda err, msg: delivered.append(msg)
    )
    assert producer.flush(30) == 0
    (msg,) = delivered
    assert msg.error() is None, msg.error()
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None
    return partition, offset


def _consume_at(bootstrap: str, topic: str, partition: int, offset: int) -> Message:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-serde-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                assert msg.offset() == offset
                return msg
        raise AssertionError(f"nothing read at {topic}/{partition}@{offset}")
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def serde(catalog_topics: Any) -> Serde:
    return Serde.for_registry(catalog_topics.endpoints)


def _key(record: AvroRecord) -> str:
    """The message key the catalog prescribes: sensor_id for sensors, camera_id otherwise."""
    return record.sensor_id if isinstance(record, SensorConfig) else record.to_avro()["camera_id"]


@pytest.mark.parametrize("index", range(7), ids=lambda i: _records("c")[i][0])
def test_round_trip_through_kafka_and_registry(
    catalog_topics: Any, serde: Serde, index: int
) -> None:
    camera = f"test-{uuid.uuid4().hex[:8]}"
    topic, record = _records(camera)[index]
    value = serde.encode(topic, record)
    partition, offset = _produce(catalog_topics.kafka_bootstrap, topic, _key(record), value)
    msg = _consume_at(catalog_topics.kafka_bootstrap, topic, partition, offset)
    assert msg.key() == _key(record).encode()
    decoded = serde.decode(topic, msg.value(), partition=msg.partition(), offset=msg.offset())
    assert decoded == record
    # the id in the frame is the registry's id for <topic>-value
    latest = httpx.get(
        f"{catalog_topics.registry_url}/subjects/{topic}-value/versions/latest",
        auth=catalog_topics.endpoints.registry_auth(),
    )
    assert latest.status_code == 200
    assert int.from_bytes(value[1:5], "big") == latest.json()["id"]


def test_tombstone_on_a_compacted_topic(catalog_topics: Any, serde: Serde) -> None:
    key = f"test-{uuid.uuid4().hex[:8]}-zone"
    partition, offset = _produce(catalog_topics.kafka_bootstrap, catalog.CONFIG_SENSORS, key, None)
    msg = _consume_at(catalog_topics.kafka_bootstrap, catalog.CONFIG_SENSORS, partition, offset)
    codec = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    assert codec.decode_or_tombstone(msg.value()) is None


def test_old_writer_decodes_with_current_reader(catalog_topics: Any, serde: Serde) -> None:
    """Evolution through the real registry: a v1 FrameRef without the defaulted fields."""
    v1 = copy.deepcopy(dict(catalog.schema_dict("FrameRef")))
    v1["fields"] = [f for f in v1["fields"] if "default" not in f]
    subject = f"test-evolution-{uuid.uuid4().hex[:8]}-value"  # ids are global across subjects
    response = httpx.post(
        f"{catalog_topics.registry_url}/subjects/{subject}/versions",
        json={"schema": json.dumps(v1)},
        auth=catalog_topics.endpoints.registry_auth(),
    )
    assert response.status_code == 200, response.text
    v1_id = response.json()["id"]
    camera = f"test-{uuid.uuid4().hex[:8]}"
    buf = BytesIO()
    buf.write(b"\x00" + int(v1_id).to_bytes(4, "big"))
    datum: dict[str, Any] = {
        "event_id": frame_event_id(camera, TS, 5),
        "camera_id": camera,
        "frame_ts": TS,
        "seq": 5,
        "width": 320,
        "height": 240,
        "motion_score": 0.0,
    }
    schemaless_writer(buf, parse_schema(v1), datum)
    partition, offset = _produce(
        catalog_topics.kafka_bootstrap, catalog.FRAMES, camera, buf.getvalue()
    )
    msg = _consume_at(catalog_topics.kafka_bootstrap, catalog.FRAMES, partition, offset)
    frame = serde.topic(catalog.FRAMES, FrameRef).decode(msg.value())
    assert frame == FrameRef(
        event_id=frame_event_id(camera, TS, 5),
        camera_id=camera,
        frame_ts=TS,
        seq=5,
        width=320,
        height=240,
        motion_score=0.0,
    )


def test_garbage_on_the_topic_names_topic_partition_offset(
    catalog_topics: Any, serde: Serde
) -> None:
    camera = f"test-{uuid.uuid4().hex[:8]}"
    partition, offset = _produce(
        catalog_topics.kafka_bootstrap, catalog.DETECTIONS, camera, b'{"not": "avro"}'
    )
    msg = _consume_at(catalog_topics.kafka_bootstrap, catalog.DETECTIONS, partition, offset)
    with pytest.raises(SerializationError) as info:
        serde.decode(catalog.DETECTIONS, msg.value(), partition=msg.partition(), offset=offset)
    expected = f"topic=vidsight.detections partition={partition} offset={offset}"
    assert expected in str(info.value)


def test_cli_register_then_check(catalog_topics: Any) -> None:
    runner = CliRunner()
    endpoints = catalog_topics.endpoints
    url, auth = endpoints.registry_url, endpoints.registry_auth()
    # The stack's data dir gives the CLI the registry's address and credentials.
    data_dir = ["--data-dir", str(catalog_topics.data_dir)]
    no_env = {"VIDSIGHT_REGISTRY_URL": None}
    registered = runner.invoke(schemas_group, ["register", *data_dir], env=no_env)
    assert registered.exit_code == 0, registered.output
    for subject, _ in catalog.subjects():
        assert subject in registered.output
        config = httpx.get(f"{url}/config/{subject}", auth=auth).json()
        assert config["compatibilityLevel"] == "BACKWARD"
    checked = runner.invoke(schemas_group, ["check", *data_dir], env=no_env)
    assert checked.exit_code == 0, checked.output
    assert "INCOMPATIBLE" not in checked.output
    # the same operation for code: idempotent, nothing changes the second time
    again = register_all(endpoints)
    assert [r.subject for r in again] == [subject for subject, _ in catalog.subjects()]
    assert not any(r.changed for r in again)
    assert all(r.compatible for r in check_all(endpoints))


def test_cli_refuses_an_incompatible_change(
    catalog_topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = catalog_topics.endpoints
    url, auth = endpoints.registry_url, endpoints.registry_auth()
    subject = f"test-cli-{uuid.uuid4().hex[:8]}-value"
    old = copy.deepcopy(dict(catalog.schema_dict("Alert")))
    next(f for f in old["fields"] if f["name"] == "top_score")["type"] = "string"
    compatibility = {"compatibility": "BACKWARD"}
    httpx.put(f"{url}/config/{subject}", json=compatibility, auth=auth).raise_for_status()
    body = {"schema": json.dumps(old)}
    httpx.post(f"{url}/subjects/{subject}/versions", json=body, auth=auth).raise_for_status()
    # point the CLI at this subject only, with the current Alert.avsc as the new version
    monkeypatch.setattr(catalog, "subjects", lambda: ((subject, "Alert"),))
    runner = CliRunner()
    for command in ("check", "register"):
        data_dir = ["--data-dir", str(catalog_topics.data_dir)]
        result = runner.invoke(schemas_group, [command, *data_dir, "--registry-url", url])
        assert result.exit_code == 1, result.output
        assert "NOT BACKWARD-compatible" in result.output
        assert "~ changed top_score: string -> double" in result.output
        assert "registry:" in result.output
    with pytest.raises(IncompatibleSchemaError, match="top_score: string -> double"):
        register_all(endpoints)
    versions = httpx.get(f"{url}/subjects/{subject}/versions", auth=auth).json()
    assert versions == [1]
