"""The worker's liveness watch on an in-memory Kafka: heartbeats on the health topic in,
video_loss / node_offline alerts out, opened by the loop's own clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from schemas import catalog
from schemas.records import (
    Alert,
    AlertLifecycle,
    HealthState,
    Heartbeat,
    SensorConfig,
    SensorEventKind,
    SensorKind,
    Severity,
    heartbeat_id,
    node_key,
    now_micros,
)
from schemas.serde import InMemorySchemaResolver, Serde
from stream_processors.runtime import Processor, ProcessorSettings
from stream_processors.runtime.metrics import ProcessorMetrics
from tests.support.memory_kafka import MemoryBroker

S = 1_000_000


def settings() -> ProcessorSettings:
    return ProcessorSettings(
        commit_interval_s=0.0,
        poll_timeout_s=0.01,
        fetch_wait_max_ms=10,
        bootstrap_timeout_s=5.0,
        restore_timeout_s=5.0,
        video_loss_s=0.6,
        node_offline_s=0.8,
    )


class Harness:
    """A running worker over a memory broker, with helpers to write heartbeats and read alerts."""

    def __init__(
        self, s: ProcessorSettings, broker: MemoryBroker | None = None, serde: Serde | None = None
    ) -> None:
        self.s = s
        self.serde = serde or Serde(InMemorySchemaResolver())
        self.broker = broker or MemoryBroker()
        for name in s.topics.model_dump().values():
            self.broker.create(name, 4)
        self._health = self.serde.topic(catalog.HEALTH, Heartbeat)
        self._alerts = self.serde.topic(catalog.ALERTS, Alert)
        self.stop = threading.Event()
        self.worker = Processor(
            s,
            serde=self.serde,
            metrics=ProcessorMetrics(),
            stop=self.stop,
            clients=self.broker.clients(),
        )
        self._thread = threading.Thread(target=self.worker.run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=10)

    def beat(
        self,
        camera: str | None,
        *,
        last_frame: int | None,
        state: HealthState = HealthState.STREAMING,
        ts: int | None = None,
    ) -> None:
        ts = now_micros() if ts is None else ts
        hb = Heartbeat(
            heartbeat_id=heartbeat_id("edge-a", camera, ts),
            node_id="edge-a",
            camera_id=camera,
            state=state,
            last_frame_ts=last_frame,
            interval_s=0.2,
            ts=ts,
        )
        self.broker.append(self.s.topics.health, self._health.encode(hb), hb.key.encode())

    def sensor(self, cfg: SensorConfig) -> None:
        codec = self.serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
        self.broker.append(self.s.topics.sensors, codec.encode(cfg), cfg.sensor_id.encode())

    def alerts(self) -> list[Alert]:
        return [self._alerts.decode(r.value) for r in self.broker.records(self.s.topics.alerts)]

    def wait_for(self, pred: Callable[[list[Alert]], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if pred(self.alerts()):
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out; alerts: {self.alerts()}")


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness(settings())
    yield h
    h.close()


def lifecycles(alerts: list[Alert], camera: str) -> list[AlertLifecycle]:
    return [a.lifecycle for a in alerts if a.camera_id == camera]


def test_video_loss_raised_by_the_loop_clock_and_ended_when_frames_return(
    harness: Harness,
) -> None:
    harness.start()
    last = now_micros()
    harness.beat("cam-1", last_frame=last)
    harness.wait_for(lambda a: lifecycles(a, "cam-1") == [AlertLifecycle.NEW])
    raised = harness.alerts()[0]
    assert (raised.kind, raised.rule, raised.start_ts) == (
        SensorEventKind.VIDEO_LOSS,
        SensorKind.VIDEO_LOSS,
        last,
    )
    back = now_micros()
    harness.beat("cam-1", last_frame=back, ts=back + 1)
    harness.wait_for(lambda a: lifecycles(a, "cam-1") == [AlertLifecycle.NEW, AlertLifecycle.END])
    assert harness.alerts()[-1].end_ts == back
    # the health input's offsets are committed with the others
    topic = harness.s.topics.health
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        committed = {p: off for (g, t, p), off in harness.broker.committed.items() if t == topic}
        if sum(committed.values()) == 2:
            break
        time.sleep(0.02)
    assert sum(committed.values()) == 2, committed


def test_node_offline_and_back(harness: Harness) -> None:
    harness.start()
    harness.beat(None, last_frame=None)
    key = node_key("edge-a")
    harness.wait_for(lambda a: lifecycles(a, key) == [AlertLifecycle.NEW])
    assert harness.alerts()[0].kind is SensorEventKind.NODE_OFFLINE
    harness.beat(None, last_frame=None)
    harness.wait_for(lambda a: lifecycles(a, key) == [AlertLifecycle.NEW, AlertLifecycle.END])


def test_a_video_loss_sensor_sets_the_camera_timeout_and_severity(harness: Harness) -> None:
    harness.sensor(
        SensorConfig(
            sensor_id="cam-2-loss",
            camera_id="cam-2",
            kind=SensorKind.VIDEO_LOSS,
            points=(),
            seconds=1.5,
            severity=Severity.CRITICAL,
            updated_ts=0,
        )
    )
    harness.start()
    started = time.monotonic()
    harness.beat("cam-2", last_frame=now_micros())
    harness.beat("cam-3", last_frame=now_micros())
    harness.wait_for(lambda a: bool(lifecycles(a, "cam-2")))
    assert time.monotonic() - started >= 1.4
    loss = next(a for a in harness.alerts() if a.camera_id == "cam-2")
    assert (loss.sensor_id, loss.severity) == ("cam-2-loss", Severity.CRITICAL)
    # cam-3 has no sensor: the processor's 0.6 s raised it first
    assert harness.alerts()[0].camera_id == "cam-3"


def test_replayed_heartbeats_raise_nothing(harness: Harness) -> None:
    old = now_micros() - 3600 * S
    for i in range(10):
        harness.beat("cam-1", last_frame=old, state=HealthState.RECONNECTING, ts=old + i * S)
        harness.beat(None, last_frame=None, ts=old + i * S)
    harness.start()
    time.sleep(2.0)
    assert harness.alerts() == []
    assert harness.worker.health.watch.watched == (0, 0)


def test_a_restarted_worker_ends_the_alert_its_predecessor_opened() -> None:
    first = Harness(settings())
    first.start()
    first.beat("cam-9", last_frame=now_micros())
    first.wait_for(lambda a: lifecycles(a, "cam-9") == [AlertLifecycle.NEW])
    first.close()  # a clean stop checkpoints the open alert to the changelog
    second = Harness(settings(), broker=first.broker, serde=first.serde)
    second.start()
    try:
        back = now_micros()
        second.beat("cam-9", last_frame=back, ts=back + 1)
        second.wait_for(
            lambda a: lifecycles(a, "cam-9") == [AlertLifecycle.NEW, AlertLifecycle.END]
        )
        new, end = second.alerts()
        assert (end.alert_id, end.revision, end.end_ts) == (new.alert_id, 1, back)
    finally:
        second.close()
