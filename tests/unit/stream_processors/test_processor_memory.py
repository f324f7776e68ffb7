"""The detections-path worker on an in-memory Kafka: the real ``Processor`` (consume loop,
frame alignment, changelog, checkpoints, global topics, outputs) with injected clients.

What a user relies on: the worker emits exactly what the pure rules engine emits for the same
records; an operator's false-positive verdict on the feedback topic suppresses a later alert;
a worker that crashes between batches and restarts emits nothing new or different, only
identical copies of what it emitted before.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from schemas import catalog
from schemas.records import (
    Alert,
    AlertLifecycle,
    BBox,
    DetectedObject,
    Detections,
    Feedback,
    FrameRef,
    Point,
    SensorConfig,
    SensorEvent,
    SensorKind,
    Verdict,
    detections_event_id,
    feedback_id,
    frame_event_id,
)
from schemas.serde import InMemorySchemaResolver, Serde
from stream_processors.rules import Engine
from stream_processors.runtime import Processor, ProcessorSettings
from stream_processors.runtime.metrics import ProcessorMetrics
from tests.support.memory_kafka import MemoryBroker, MemoryConsumer

T0 = 1_700_000_000_000_000
SQUARE = ((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8))
VERTICAL = ((0.5, 0.0), (0.5, 1.0))
PARTITIONS = 4
MS = 1000
CAMS = ("cam-1", "cam-2", "cam-3")


def settings() -> ProcessorSettings:
    return ProcessorSettings(
        batch_max_messages=7,  # many batches, so a crash falls between two of them
        commit_interval_s=0.0,  # a checkpoint whenever the previous one is done
        poll_timeout_s=0.01,
        fetch_wait_max_ms=10,
        frame_max_hold_s=0.05,
        bootstrap_timeout_s=5.0,
        restore_timeout_s=5.0,
    )


@pytest.fixture
def serde() -> Serde:
    return Serde(InMemorySchemaResolver())


def new_broker(s: ProcessorSettings) -> MemoryBroker:
    broker = MemoryBroker()
    t = s.topics
    for name in (
        t.detections,
        t.frames,
        t.sensors,
        t.feedback,
        t.health,
        t.sensor_events,
        t.alerts,
        t.dlq,
        t.changelog,
    ):
        broker.create(name, PARTITIONS)
    return broker


def sensors_of(camera: str) -> list[SensorConfig]:
    """A tripwire and a zone on the camera."""

    def make(
        suffix: str, kind: SensorKind, pts: tuple[tuple[float, float], ...], **kw: Any
    ) -> SensorConfig:
        return SensorConfig(
            sensor_id=f"{camera}-{suffix}",
            camera_id=camera,
            kind=kind,
            points=tuple(Point(x=x, y=y) for x, y in pts),
            updated_ts=0,
            **kw,
        )

    return [
        make("line", SensorKind.TRIPWIRE, VERTICAL),
        make("zone", SensorKind.ZONE, SQUARE, group_gap_s=2.0),
    ]


def person(track: int, x: float, y: float) -> DetectedObject:
    """A person whose anchor (bottom-centre) is at (x, y)."""
    return DetectedObject(
        track_id=track,
        label="person",
        score=0.9,
        bbox=BBox(x1=x - 0.05, y1=y - 0.2, x2=x + 0.05, y2=y),
    )


def frame(camera: str, ts: int, seq: int, count: int) -> FrameRef:
    return FrameRef(
        event_id=frame_event_id(camera, ts, seq),
        camera_id=camera,
        frame_ts=ts,
        seq=seq,
        width=640,
        height=480,
        motion_score=0.0,
        analysed=True,
        object_count=count,
    )


def det(camera: str, ts: int, seq: int, objects: tuple[DetectedObject, ...]) -> Detections:
    return Detections(
        event_id=detections_event_id(camera, ts, seq),
        camera_id=camera,
        frame_ts=ts,
        seq=seq,
        model="test",
        objects=objects,
    )


def false_positive(alert: Alert, ts: int) -> Feedback:
    return Feedback(
        feedback_id=feedback_id(alert.alert_id, "op", ts),
        alert_id=alert.alert_id,
        camera_id=alert.camera_id,
        sensor_id=alert.sensor_id,
        verdict=Verdict.FALSE_POSITIVE,
        operator="op",
        ts=ts,
    )


def walk(
    camera: str, start_s: float, seconds: float, track: int, *, still: bool = False
) -> Iterator[tuple[FrameRef, Detections | None]]:
    """One person crossing the frame left to right (``still``: standing in the middle) at 5
    frames/s for ``seconds``, then 5 s of empty frames."""
    steps = int(seconds * 5)
    for i in range(steps + 25):
        ts = T0 + round((start_s + i * 0.2) * 1_000_000)
        seq = round(start_s * 5) + i + 1
        if i < steps:
            x = 0.5 if still else 0.05 + 0.9 * i / max(1, steps - 1)
            yield frame(camera, ts, seq, 1), det(camera, ts, seq, (person(track, x, 0.5),))
        else:
            yield frame(camera, ts, seq, 0), None


class Workload:
    """Writes sensors, frames and detections to the broker and feeds the same to an engine."""

    def __init__(self, broker: MemoryBroker, s: ProcessorSettings, serde: Serde) -> None:
        self.broker = broker
        self.s = s
        self.serde = serde
        self.engine = Engine(s.engine_options())
        self.expected: list[Any] = []
        self._partition = {cam: i % PARTITIONS for i, cam in enumerate(CAMS)}

    def add_sensors(self, cameras: tuple[str, ...] = CAMS) -> None:
        codec = self.serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
        for camera in cameras:
            for cfg in sensors_of(camera):
                self.broker.append(self.s.topics.sensors, codec.encode(cfg), cfg.sensor_id.encode())
                self.expected.extend(self.engine.on_sensor(cfg.sensor_id, cfg))

    def add_walks(
        self,
        *args: Any,
        cameras: tuple[str, ...] = CAMS,
        **kw: Any,
    ) -> None:
        """``walk(camera, *args, **kw)`` on each camera, interleaved in time."""
        frames = self.serde.topic(catalog.FRAMES, FrameRef)
        dets = self.serde.topic(catalog.DETECTIONS, Detections)
        walks = [walk(cam, *args, **kw) for cam in cameras]
        for step in zip(*walks, strict=True):  # cameras interleaved in time, as an edge does
            for f, d in step:
                p = self._partition[f.camera_id]
                key = f.camera_id.encode()
                self.broker.append(self.s.topics.frames, frames.encode(f), key, partition=p)
                if d is not None:
                    self.broker.append(self.s.topics.detections, dets.encode(d), key, partition=p)
                    self.expected.extend(self.engine.on_detections(d))
                self.expected.extend(self.engine.on_frame(f))

    def add_feedback(self, fb: Feedback) -> None:
        codec = self.serde.topic(catalog.FEEDBACK, Feedback)
        self.broker.append(self.s.topics.feedback, codec.encode(fb), fb.camera_id.encode())
        self.engine.on_feedback(fb)


def run(broker: MemoryBroker, s: ProcessorSettings, serde: Serde, **clients: Any) -> Processor:
    worker = Processor(
        s,
        serde=serde,
        metrics=ProcessorMetrics(),
        stop=threading.Event(),
        clients=broker.clients(**clients),
    )
    worker.run(exit_when_idle_s=0.3)
    return worker


def emitted(
    broker: MemoryBroker, s: ProcessorSettings, serde: Serde
) -> dict[tuple[str, str], list[Any]]:
    """Decoded outputs per (topic, camera), in the order they were written."""
    out: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for topic, kind in ((s.topics.sensor_events, SensorEvent), (s.topics.alerts, Alert)):
        codec = serde.topic(catalog.SENSOR_EVENTS if kind is SensorEvent else catalog.ALERTS, kind)
        for r in broker.records(topic):
            out[(topic, (r.key or b"").decode())].append(codec.decode(r.value))
    return out


def expected_by_camera(
    outputs: list[Any], s: ProcessorSettings
) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for o in outputs:
        topic = s.topics.sensor_events if isinstance(o, SensorEvent) else s.topics.alerts
        out[(topic, o.camera_id)].append(o)
    return out


def without_repeats(records: list[Any]) -> list[Any]:
    """The records with every exact repeat of an earlier one removed."""
    seen: list[Any] = []
    return [r for r in records if not (r in seen or seen.append(r))]  # type: ignore[func-returns-value]


def test_the_worker_emits_what_the_pure_engine_emits(serde: Serde) -> None:
    s = settings()
    broker = new_broker(s)
    work = Workload(broker, s, serde)
    work.add_sensors()
    work.add_walks(0.0, 4.0, 1)
    assert work.expected, "the workload must make the rules fire"

    worker = run(broker, s, serde)

    assert emitted(broker, s, serde) == expected_by_camera(work.expected, s)
    assert worker.stats.alerts == len([o for o in work.expected if isinstance(o, Alert)])
    assert worker.stats.checkpoints > 0
    # the input offsets are committed: a restart reads nothing again
    assert broker.committed[(s.group_id, s.topics.detections, 0)] == len(
        broker.topics[s.topics.detections][0]
    )


def zone_alerts(outputs: list[Any]) -> list[Alert]:
    return [
        a
        for a in outputs
        if isinstance(a, Alert)
        and a.sensor_id == "cam-1-zone"
        and a.lifecycle is AlertLifecycle.NEW
    ]


def test_false_positive_feedback_from_the_topic_suppresses_a_later_alert(serde: Serde) -> None:
    s = settings()
    broker = new_broker(s)
    work = Workload(broker, s, serde)
    work.add_sensors(("cam-1",))
    work.add_walks(0.0, 2.0, 1, still=True, cameras=("cam-1",))  # a flag waving, seen as a person
    run(broker, s, serde)
    (first,) = zone_alerts(emitted(broker, s, serde)[(s.topics.alerts, "cam-1")])

    # The control: without a verdict, the same sighting later raises a second alert.
    control = Engine(s.engine_options())
    for cfg in sensors_of("cam-1"):
        control.on_sensor(cfg.sensor_id, cfg)
    outputs = []
    for f, d in [*walk("cam-1", 0.0, 2.0, 1, still=True), *walk("cam-1", 20.0, 2.0, 2, still=True)]:
        if d is not None:
            outputs.extend(control.on_detections(d))
        outputs.extend(control.on_frame(f))
    assert len(zone_alerts(outputs)) == 2

    # The operator marks the first alert a false positive; the flag is seen again.
    work.add_feedback(false_positive(first, T0 + 10_000_000))
    work.add_walks(20.0, 2.0, 2, still=True, cameras=("cam-1",))
    run(broker, s, serde)  # a restart: feedback from the topic, state from the changelog

    got = emitted(broker, s, serde)
    assert zone_alerts(got[(s.topics.alerts, "cam-1")]) == [first]
    assert got == expected_by_camera(work.expected, s)


class CrashError(Exception):
    """The worker dies here (as a kill would end it: no final checkpoint)."""


class CrashingConsumer:
    """The group consumer, crashing before its ``after``-th consume with data."""

    def __init__(self, inner: MemoryConsumer, after: int) -> None:
        self._inner = inner
        self._left = after

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]:
        msgs = self._inner.consume(num_messages, timeout)
        if msgs:
            self._left -= 1
            if self._left <= 0:
                raise CrashError(
                    f"crashed after reading up to {msgs[-1].topic()}@{msgs[-1].offset()}"
                )
        return msgs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("crash_after", [6, 10, 14])
def test_a_crash_between_batches_then_a_restart_re_emits_only_identical_outputs(
    serde: Serde, crash_after: int
) -> None:
    s = settings()
    broker = new_broker(s)
    work = Workload(broker, s, serde)
    work.add_sensors()
    work.add_walks(0.0, 4.0, 1)

    def crashing(c: MemoryConsumer) -> Any:
        return CrashingConsumer(c, crash_after) if c.group == s.group_id else c

    with pytest.raises(CrashError):
        run(broker, s, serde, consumer_wrap=crashing)
    before = sum(len(v) for v in emitted(broker, s, serde).values())
    assert 0 < before < len(work.expected), "the crash must fall in the middle of the run"

    run(broker, s, serde)

    got = emitted(broker, s, serde)
    want = expected_by_camera(work.expected, s)
    assert {k: without_repeats(v) for k, v in got.items()} == want
    assert sum(len(v) for v in got.values()) >= len(work.expected)
