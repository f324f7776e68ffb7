"""Helpers of the processor integration tests (no tests here): topics of their own per test,
inputs from the synthetic scene (producers/synthetic) with its ground truth, output readers.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, Producer

from producers.synthetic.scene import CENTRE_LINE, Scene, SceneSpec, crossing_of
from schemas import catalog
from schemas.catalog import TopicSpec
from schemas.records import (
    Alert,
    CrossingDirection,
    DetectedObject,
    Detections,
    FrameRef,
    Point,
    SensorConfig,
    SensorKind,
    detections_event_id,
    frame_event_id,
)
from schemas.registration import register_all
from schemas.serde import Serde
from schemas.topics import create_topics
from stream_processors.runtime import Processor, ProcessorSettings, ProcessorTopics
from stream_processors.runtime.kafka import assign_from_beginning, end_offsets, read_to_end

T0 = 1_700_000_000_000_000
FPS = 5
OBJECTS = 20
PARTITIONS = 6
UPPER_ZONE_Y = 0.6
CAMERAS = ("cam-1", "cam-2", "cam-3")  # the scene seed is the number
ROLE_OUTPUTS = ("sensor_events", "alerts", "dlq", "changelog")


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(catalog_topics: Any) -> Any:
    register_all(catalog_topics.endpoints)
    return catalog_topics


def topic_set(stack: Any, name: str) -> ProcessorTopics:
    """Topics of their own for one test (inputs) or run (outputs), created on the broker."""
    fields = {f: f"t.{name}.{f}" for f in ProcessorTopics.model_fields}
    topics = ProcessorTopics(**fields)
    compacted = {"sensors", "changelog"}
    specs = [
        TopicSpec(
            name=value,
            value_schema=None,
            partitions=1 if field == "sensors" else PARTITIONS,
            config={"cleanup.policy": "compact" if field in compacted else "delete"},
            compacted=field in compacted,
            doc="test",
        )
        for field, value in fields.items()
    ]
    create_topics(stack.endpoints.kafka_client_config(), specs)
    return topics


def outputs_of(inputs: ProcessorTopics, run: ProcessorTopics) -> ProcessorTopics:
    """The inputs of one test with the output topics of one run."""
    return inputs.model_copy(update={f: getattr(run, f) for f in ROLE_OUTPUTS})


def settings_for(stack: Any, topics: ProcessorTopics, group: str, **kw: Any) -> ProcessorSettings:
    return ProcessorSettings(
        **stack.endpoints.model_dump(),
        group_id=group,
        topics=topics,
        session_timeout_ms=3000,
        **kw,
    )


def producer(stack: Any) -> Producer:
    return Producer(
        stack.endpoints.kafka_client_config(
            **{
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                # not idempotent: the local broker fails concurrent idempotent producers
                "enable.idempotence": False,
                "max.in.flight.requests.per.connection": 1,
            }
        )
    )


def sensors_of(camera_id: str) -> list[SensorConfig]:
    def sensor(suffix: str, kind: SensorKind, points: list[tuple[float, float]]) -> SensorConfig:
        return SensorConfig(
            sensor_id=f"{camera_id}-{suffix}",
            camera_id=camera_id,
            kind=kind,
            points=tuple(Point(x, y) for x, y in points),
            group_gap_s=4.0,
            updated_ts=T0,
        )

    y = UPPER_ZONE_Y
    return [
        sensor("line", SensorKind.TRIPWIRE, [(0.5, 0.0), (0.5, 1.0)]),
        sensor("upper", SensorKind.ZONE, [(0.3, 0.0), (0.7, 0.0), (0.7, y), (0.3, y)]),
    ]


def scene_of(camera_id: str) -> Scene:
    return Scene(SceneSpec(seed=int(camera_id.rsplit("-", 1)[1])))


def scene_records(camera_id: str) -> Iterator[FrameRef | Detections]:
    """Frames (every one analysed) and the detections of frames with objects, in time order:
    the scene's first OBJECTS objects, until 8 s after the last of them has left."""
    scene = scene_of(camera_id)
    end = max(scene.object(i).t_exit for i in range(OBJECTS)) + 8.0  # idle tail: alerts end
    for seq in range(round(end * FPS)):
        t = seq / FPS
        ts = T0 + round(t * 1_000_000)
        truth = [b for b in scene.truth_at(t) if b.object_id <= OBJECTS]
        objects = tuple(
            DetectedObject(track_id=b.object_id, label=b.label, score=0.9, bbox=b.bbox)
            for b in truth
        )
        if objects:
            yield Detections(
                event_id=detections_event_id(camera_id, ts, seq),
                camera_id=camera_id,
                frame_ts=ts,
                seq=seq,
                model="truth",
                objects=objects,
            )
        yield FrameRef(
            event_id=frame_event_id(camera_id, ts, seq),
            camera_id=camera_id,
            frame_ts=ts,
            seq=seq,
            width=640,
            height=480,
            motion_score=0.0,
            analysed=True,
            object_count=len(truth),
        )


def expected_counts(camera_id: str) -> tuple[Counter[CrossingDirection], int]:
    """Crossings of the centre line per direction, and entries into the upper zone."""
    scene = scene_of(camera_id)
    crossings: Counter[CrossingDirection] = Counter()
    entries = 0
    for i in range(OBJECTS):
        obj = scene.object(i)
        hit = crossing_of(obj, CENTRE_LINE)
        assert hit is not None
        crossings[hit.direction] += 1
        assert abs(obj.bottom - UPPER_ZONE_Y) > 0.01, "ambiguous ground truth: pick a seed"
        entries += obj.bottom < UPPER_ZONE_Y
    return crossings, entries


def produce_inputs(
    stack: Any, serde: Serde, topics: ProcessorTopics, *, rate: float | None = None
) -> int:
    """Sensors, then every camera's frames and detections (interleaved in time)."""
    p = producer(stack)
    sensors = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    for camera_id in CAMERAS:
        for cfg in sensors_of(camera_id):
            p.produce(topics.sensors, sensors.encode(cfg), cfg.sensor_id.encode())
    p.flush()
    n = publish_records(p, serde, topics, list(all_records()), rate=rate)
    return n


def all_records(cameras: Iterable[str] = CAMERAS) -> Iterator[FrameRef | Detections]:
    """Every camera's records, interleaved in time as one edge publishes them."""
    streams = [list(scene_records(c)) for c in cameras]
    longest = max(len(s) for s in streams)
    for i in range(longest):
        for s in streams:
            if i < len(s):
                yield s[i]


def publish_records(
    p: Producer,
    serde: Serde,
    topics: ProcessorTopics,
    records: list[FrameRef | Detections],
    *,
    rate: float | None = None,
) -> int:
    det = serde.topic(catalog.DETECTIONS, Detections)
    frames = serde.topic(catalog.FRAMES, FrameRef)
    started = time.monotonic()
    for i, rec in enumerate(records):
        if isinstance(rec, Detections):
            p.produce(topics.detections, det.encode(rec), rec.camera_id.encode())
        else:
            p.produce(topics.frames, frames.encode(rec), rec.camera_id.encode())
        if rate is not None and i % 50 == 0:
            p.poll(0)
            ahead = i / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    p.flush()
    return len(records)


def read_all(stack: Any, topic: str) -> list[Message]:
    """Every record of a topic (read until a fetch comes back empty)."""
    consumer = Consumer(
        stack.endpoints.kafka_client_config(
            **{"group.id": "test-reader", "enable.auto.commit": False, "fetch.wait.max.ms": 50}
        )
    )
    out: list[Message] = []
    try:
        partitions = assign_from_beginning(consumer, [topic])
        ends = end_offsets(stack.endpoints.kafka_client_config(), partitions)
        read_to_end(consumer, ends, out.append, settle_s=0.5, timeout_s=60)
    finally:
        consumer.close()
    return out


def by_camera(stack: Any, serde: Serde, topic: str, record_type: type[Any]) -> dict[str, list[Any]]:
    codec = serde.topic(catalog.ALERTS if record_type is Alert else catalog.SENSOR_EVENTS)
    out: dict[str, list[Any]] = defaultdict(list)
    for msg in sorted(read_all(stack, topic), key=lambda m: (m.partition(), m.offset())):
        record = codec.decode(msg.value())
        assert msg.key() == record.camera_id.encode()
        out[record.camera_id].append(record)
    return dict(out)


def run_inline(settings: ProcessorSettings, serde: Serde, idle_s: float = 2.5) -> Any:
    return Processor(settings, serde=serde).run(exit_when_idle_s=idle_s)
