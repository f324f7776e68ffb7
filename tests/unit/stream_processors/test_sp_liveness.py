"""Video-loss and node-offline state machines (rules/liveness.py) and the video_loss sensor
kind, on plain data with a fake clock."""

from __future__ import annotations

import pytest

from schemas.records import (
    Alert,
    AlertLifecycle,
    HealthState,
    Heartbeat,
    SensorEventKind,
    SensorKind,
    Severity,
    alert_id,
    heartbeat_id,
)
from stream_processors.config import parse_sensors_yaml
from stream_processors.errors import SensorConfigError
from stream_processors.rules import Engine
from stream_processors.rules.liveness import (
    LivenessOptions,
    LivenessWatch,
    LossPolicy,
)
from stream_processors.rules.validate import check_sensor
from tests.unit.stream_processors.sp_helpers import CAM, T0, S, det, obj, sensor

OPTS = LivenessOptions(video_loss_s=10.0, node_offline_s=30.0)


def beat(
    ts: int,
    last_frame: int | None,
    state: HealthState = HealthState.STREAMING,
    camera: str | None = CAM,
    node: str = "edge-a",
) -> Heartbeat:
    return Heartbeat(
        heartbeat_id=heartbeat_id(node, camera, ts),
        node_id=node,
        camera_id=camera,
        state=state,
        last_frame_ts=last_frame,
        interval_s=5.0,
        ts=ts,
    )


class Clock:
    """The processor's monotonic clock (s) and the wall clock (us), moved together."""

    def __init__(self) -> None:
        self.now_s = 1000.0
        self.wall_us = T0

    def advance(self, seconds: float) -> None:
        self.now_s += seconds
        self.wall_us += round(seconds * S)


def feed(w: LivenessWatch, clock: Clock, hb: Heartbeat, partition: int = 0) -> list[Alert]:
    return w.on_heartbeat(hb, partition, now_s=clock.now_s, wall_us=clock.wall_us)


def default(camera_id: str) -> LossPolicy:
    return LossPolicy("video_loss", 10.0, Severity.HIGH)


def streaming_camera(
    clock: Clock, w: LivenessWatch | None = None, seconds: int = 30
) -> tuple[LivenessWatch, list[Alert]]:
    """A camera streaming for ``seconds``: a heartbeat every 5 s, frames up to the moment."""
    w = w or LivenessWatch(OPTS, default)
    out: list[Alert] = []
    for _ in range(seconds // 5):
        out += feed(w, clock, beat(clock.wall_us, clock.wall_us - 40_000))
        clock.advance(5)
        out += w.tick(clock.now_s)
    return w, out


def test_streaming_camera_raises_nothing() -> None:
    clock = Clock()
    _, out = streaming_camera(clock)
    assert out == []


def test_source_stops_video_loss_after_the_timeout_then_ends_when_frames_return() -> None:
    clock = Clock()
    w, _ = streaming_camera(clock)
    last_frame = clock.wall_us - 100_000
    # The source stops: heartbeats go on (reconnecting), the last frame stays where it was.
    out: list[Alert] = []
    raised_at = None
    for _ in range(30):
        hb = beat(clock.wall_us, last_frame, HealthState.RECONNECTING)
        out += feed(w, clock, hb)
        for _ in range(10):
            clock.advance(0.5)
            new = w.tick(clock.now_s)
            if new and raised_at is None:
                raised_at = clock.wall_us
            out += new
        if out:
            break
    assert [a.lifecycle for a in out] == [AlertLifecycle.NEW]
    assert raised_at is not None and raised_at - last_frame == pytest.approx(10 * S, abs=S)
    alert = out[0]
    assert (alert.kind, alert.rule, alert.sensor_id, alert.camera_id) == (
        SensorEventKind.VIDEO_LOSS,
        SensorKind.VIDEO_LOSS,
        "video_loss",
        CAM,
    )
    assert alert.start_ts == last_frame and alert.end_ts is None
    assert alert.alert_id == alert_id(CAM, "video_loss", last_frame, SensorEventKind.VIDEO_LOSS)
    assert alert.severity is Severity.HIGH and alert.updated_ts == last_frame + 10 * S
    # Still lost: no repeat.
    clock.advance(5)
    assert feed(w, clock, beat(clock.wall_us, last_frame, HealthState.RECONNECTING)) == []
    assert w.tick(clock.now_s + 60) == []
    # Frames return.
    clock.advance(1)
    back = clock.wall_us - 20_000
    end = feed(w, clock, beat(clock.wall_us, back))
    assert [(a.lifecycle, a.alert_id, a.revision, a.end_ts) for a in end] == [
        (AlertLifecycle.END, alert.alert_id, 1, back)
    ]
    assert w.open_alerts == 0


def test_heartbeats_that_stop_count_as_no_frames() -> None:
    clock = Clock()
    w, _ = streaming_camera(clock)  # its last heartbeat 5 s ago
    clock.advance(4.9)
    assert w.tick(clock.now_s) == []
    clock.advance(0.2)
    (alert,) = w.tick(clock.now_s)
    assert alert.lifecycle is AlertLifecycle.NEW and alert.kind is SensorEventKind.VIDEO_LOSS


def test_a_camera_that_never_sent_a_frame_is_lost_from_its_first_heartbeat() -> None:
    clock = Clock()
    w = LivenessWatch(OPTS, default)
    first = clock.wall_us
    assert feed(w, clock, beat(first, None, HealthState.RECONNECTING)) == []
    clock.advance(9.9)
    assert w.tick(clock.now_s) == []
    clock.advance(0.2)
    (alert,) = w.tick(clock.now_s)
    assert alert.start_ts == first


def test_stopped_camera_is_not_lost_and_its_open_alert_ends() -> None:
    clock = Clock()
    w, _ = streaming_camera(clock)
    clock.advance(12)
    (new,) = w.tick(clock.now_s)
    stop = feed(w, clock, beat(clock.wall_us, new.start_ts, HealthState.STOPPED))
    assert [(a.lifecycle, a.end_ts) for a in stop] == [(AlertLifecycle.END, clock.wall_us)]
    clock.advance(3600)
    assert w.tick(clock.now_s) == []
    # Started again an hour later: the loss counts from then, not from the old last frame.
    feed(w, clock, beat(clock.wall_us, None, HealthState.RECONNECTING))
    clock.advance(5)
    assert w.tick(clock.now_s) == []
    clock.advance(5.1)
    (again,) = w.tick(clock.now_s)
    assert again.start_ts == clock.wall_us - round(10.1 * S)


def test_replayed_old_heartbeats_raise_nothing() -> None:
    clock = Clock()
    w = LivenessWatch(OPTS, default)
    old = clock.wall_us - 3600 * S
    for i in range(20):  # an hour-old history: a camera that lost its video back then
        assert feed(w, clock, beat(old + i * 5 * S, old, HealthState.RECONNECTING)) == []
    clock.advance(3600)
    assert w.tick(clock.now_s) == [] and w.watched == (0, 0)


def test_per_camera_policy_timeout_severity_and_switch_off() -> None:
    clock = Clock()
    policies = {
        "slow": LossPolicy("slow-loss", 60.0, Severity.CRITICAL),
        "off": None,
    }
    w = LivenessWatch(OPTS, lambda cam: policies.get(cam, default(cam)))
    for cam in ("slow", "off", CAM):
        feed(w, clock, beat(clock.wall_us, clock.wall_us, camera=cam))
    clock.advance(11)
    assert [a.camera_id for a in w.tick(clock.now_s)] == [CAM]
    clock.advance(50)
    (slow,) = w.tick(clock.now_s)
    assert (slow.camera_id, slow.sensor_id, slow.severity) == (
        "slow",
        "slow-loss",
        Severity.CRITICAL,
    )
    clock.advance(600)
    assert w.tick(clock.now_s) == []


def test_node_offline_when_its_heartbeats_stop_and_back_when_they_return() -> None:
    clock = Clock()
    w = LivenessWatch(OPTS, default)
    for _ in range(4):
        assert feed(w, clock, beat(clock.wall_us, None, camera=None)) == []
        clock.advance(5)
    last = clock.wall_us - 5 * S
    clock.advance(24.9)
    assert w.tick(clock.now_s) == []
    clock.advance(0.2)
    (alert,) = w.tick(clock.now_s)
    assert (alert.kind, alert.rule, alert.camera_id, alert.sensor_id, alert.label) == (
        SensorEventKind.NODE_OFFLINE,
        SensorKind.NODE_OFFLINE,
        "node:edge-a",
        "node_offline",
        "node",
    )
    assert alert.start_ts == last and alert.lifecycle is AlertLifecycle.NEW
    assert w.tick(clock.now_s + 100) == []
    back = feed(w, clock, beat(clock.wall_us, None, camera=None))
    assert [(a.lifecycle, a.alert_id, a.end_ts) for a in back] == [
        (AlertLifecycle.END, alert.alert_id, clock.wall_us)
    ]


def test_node_that_stopped_cleanly_is_not_offline() -> None:
    clock = Clock()
    w = LivenessWatch(OPTS, default)
    feed(w, clock, beat(clock.wall_us, None, camera=None))
    clock.advance(1)
    feed(w, clock, beat(clock.wall_us, None, HealthState.STOPPED, camera=None))
    clock.advance(300)
    assert w.tick(clock.now_s) == []


def test_out_of_order_heartbeats_are_ignored_and_release_forgets_partitions() -> None:
    clock = Clock()
    w = LivenessWatch(OPTS, default)
    now = clock.wall_us
    feed(w, clock, beat(now, now), partition=3)
    assert feed(w, clock, beat(now - S, now - 20 * S, HealthState.FAILED), partition=3) == []
    feed(w, clock, beat(now, None, camera=None), partition=5)
    assert w.watched == (1, 1)
    w.release([3])
    assert w.watched == (0, 1)
    clock.advance(100)
    assert [a.camera_id for a in w.tick(clock.now_s)] == ["node:edge-a"]


def test_options_refuse_non_positive_timeouts() -> None:
    with pytest.raises(ValueError, match="video_loss_s"):
        LivenessOptions(video_loss_s=0)


def test_video_loss_sensor_kind() -> None:
    good = sensor("gate-loss", SensorKind.VIDEO_LOSS, (), seconds=30.0)
    check_sensor(good)
    for bad, field in (
        (sensor("x", SensorKind.VIDEO_LOSS, ()), "seconds"),
        (sensor("x", SensorKind.VIDEO_LOSS, ((0.1, 0.1),), seconds=5.0), "points"),
        (sensor("x", SensorKind.VIDEO_LOSS, (), seconds=-1.0), "seconds"),
        (sensor("x", SensorKind.VIDEO_LOSS, (), seconds=5.0, labels=("car",)), "labels"),
        (sensor("x", SensorKind.NODE_OFFLINE, (), seconds=5.0), "kind"),
    ):
        with pytest.raises(SensorConfigError, match=field):
            check_sensor(bad)
    # The sensor looks at no object: detections through its camera raise nothing.
    engine = Engine()
    assert engine.on_sensor("gate-loss", good) == []
    assert engine.on_detections(det(T0, [obj(1, 0.5, 0.5)], seq=1)) == []
    assert [s.kind for s in engine.sensors(CAM)] == [SensorKind.VIDEO_LOSS]


def test_a_video_loss_sensor_from_yaml() -> None:
    (cfg,) = parse_sensors_yaml(
        "cameras:\n  - {id: gate-1, source: 'synthetic:crossing'}\n"
        "sensors:\n  - {id: gate-1-video, camera: gate-1, kind: video_loss, points: [],"
        " seconds: 30, severity: critical}\n",
        updated_ts=0,
    )
    assert (cfg.kind, cfg.seconds, cfg.severity, cfg.points) == (
        SensorKind.VIDEO_LOSS,
        30.0,
        Severity.CRITICAL,
        (),
    )


def test_open_alerts_are_counted_and_released_with_their_partition() -> None:
    clock = Clock()
    w = LivenessWatch(OPTS, default)
    feed(w, clock, beat(clock.wall_us, clock.wall_us, camera="a"), partition=1)
    feed(w, clock, beat(clock.wall_us, clock.wall_us, camera="b"), partition=2)
    feed(w, clock, beat(clock.wall_us, None, camera=None), partition=2)
    clock.advance(60)
    assert len(w.tick(clock.now_s)) == 3 and w.open_alerts == 3
    clock.advance(1)
    feed(w, clock, beat(clock.wall_us, clock.wall_us, camera="a"), partition=1)  # frames back
    assert w.open_alerts == 2
    w.release([2])
    assert w.open_alerts == 0 and w.watched == (1, 0)


def test_open_alerts_survive_a_handover_through_their_state() -> None:
    clock = Clock()
    w = LivenessWatch(OPTS, default)
    last = clock.wall_us
    feed(w, clock, beat(last, last), partition=2)
    feed(w, clock, beat(last, None, camera=None), partition=3)
    clock.advance(60)
    cam_new, node_new = w.tick(clock.now_s)
    states = {key: (p, data) for key, p, data in w.snapshot_dirty()}
    assert set(states) == {CAM, "node:edge-a"} and w.snapshot_dirty() == []
    # Another worker takes the partitions over: it ends what the first one opened.
    other = LivenessWatch(OPTS, default)
    for key, (p, data) in states.items():
        assert data is not None
        other.restore(key, p, data)
    assert other.open_alerts == 2 and other.tick(clock.now_s + 600) == []
    clock.advance(1)
    (cam_end,) = feed(other, clock, beat(clock.wall_us, clock.wall_us), partition=2)
    (node_end,) = feed(other, clock, beat(clock.wall_us, None, camera=None), partition=3)
    assert (cam_end.alert_id, cam_end.revision, cam_end.lifecycle) == (
        cam_new.alert_id,
        1,
        AlertLifecycle.END,
    )
    assert (cam_end.start_ts, cam_end.sensor_id) == (cam_new.start_ts, cam_new.sensor_id)
    assert (node_end.alert_id, node_end.lifecycle) == (node_new.alert_id, AlertLifecycle.END)
    # Ended: tombstones.
    assert sorted(other.snapshot_dirty()) == [(CAM, 2, None), ("node:edge-a", 3, None)]
    with pytest.raises(ValueError, match="unreadable"):
        other.restore(CAM, 2, b"[1]")
