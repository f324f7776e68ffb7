"""Heartbeat figures of an edge node and its cameras (producers.health), on plain data."""

from __future__ import annotations

import threading

import pytest

from producers.camera import CameraStatus
from producers.health import (
    CameraView,
    HealthReporter,
    HeartbeatPublisher,
    NodeFigures,
    camera_state,
)
from producers.spool_format import SpoolStats
from schemas import catalog
from schemas.records import HealthState, Heartbeat, heartbeat_id
from schemas.serde import InMemorySchemaResolver, Serde

US = 1_000_000
T0 = 1_700_000_000 * US


def spool(pending: int = 0, evicted: int = 0) -> SpoolStats:
    return SpoolStats(
        pending_records=pending,
        pending_bytes=pending * 100,
        segments=1,
        appended_records=pending,
        evicted_records=evicted,
        evicted_bytes=evicted * 100,
        corrupt_records=0,
    )


FIGURES = NodeFigures(events=spool(12, 3), evidence=spool(4))


def status(camera_id: str = "gate-1", **kw: object) -> CameraStatus:
    st = CameraStatus(camera_id, "file:///x.mp4", started_s=100.0)
    for name, value in kw.items():
        setattr(st, name, value)
    return st


@pytest.mark.parametrize(
    ("state", "health"),
    [
        ("starting", HealthState.RECONNECTING),
        ("running", HealthState.STREAMING),
        ("reconnecting", HealthState.RECONNECTING),
        ("finished", HealthState.STOPPED),
        ("stopped", HealthState.STOPPED),
        ("failed", HealthState.FAILED),
        ("something-new", HealthState.UNKNOWN),
    ],
)
def test_camera_state(state: str, health: HealthState) -> None:
    assert camera_state(state) is health


def test_rates_are_per_interval_and_latency_is_the_mean_detector_time() -> None:
    reporter = HealthReporter("edge-a", "north", 5.0)
    st = status(state="running")
    st.frames_decoded, st.frames_sampled, st.frames_analysed, st.detector_s = 250, 50, 10, 0.2
    st.last_frame_us = T0 - 40_000
    first = reporter.camera(CameraView(st, 5.0), now_us=T0, now_s=110.0)
    # First heartbeat: since the worker started (10 s).
    assert first.decoded_fps == pytest.approx(25.0)
    assert first.analysed_fps == pytest.approx(5.0)
    assert first.detector_latency_ms == pytest.approx(20.0)
    assert (first.configured_fps, first.state, first.last_frame_ts) == (
        5.0,
        HealthState.STREAMING,
        T0 - 40_000,
    )
    assert (first.node_id, first.site, first.camera_id, first.key) == (
        "edge-a",
        "north",
        "gate-1",
        "gate-1",
    )
    assert first.heartbeat_id == heartbeat_id("edge-a", "gate-1", T0)
    # Second: only what happened in the 5 s since; the detector did not run at all.
    st.frames_decoded, st.frames_sampled = 300, 60
    second = reporter.camera(CameraView(st, 5.0), now_us=T0 + 5 * US, now_s=115.0)
    assert second.decoded_fps == pytest.approx(10.0)
    assert second.analysed_fps == pytest.approx(2.0)
    assert second.detector_latency_ms is None
    assert (second.frames_decoded, second.frames_analysed) == (300, 60)


def test_error_is_reported_only_while_reconnecting_or_failed() -> None:
    reporter = HealthReporter("edge-a", None, 5.0)
    st = status(state="reconnecting", error="connection refused", reconnects=3, decode_errors=2)
    beat = reporter.camera(CameraView(st, 5.0), now_us=T0, now_s=101.0)
    assert (beat.state, beat.error, beat.reconnects, beat.decode_errors) == (
        HealthState.RECONNECTING,
        "connection refused",
        3,
        2,
    )
    st.state = "running"
    beat = reporter.camera(CameraView(st, 5.0), now_us=T0 + US, now_s=102.0)
    assert (beat.state, beat.error) == (HealthState.STREAMING, None)


def test_node_heartbeat_sums_its_cameras_and_reports_its_spools() -> None:
    reporter = HealthReporter("edge-a", "north", 2.0)
    a = status("a", state="running", frames_decoded=100, frames_sampled=20, last_frame_us=T0 - 5)
    b = status("b", state="failed", error="gone", reconnects=4, last_frame_us=T0 - 9 * US)
    beats = reporter.round([CameraView(a, 5.0), CameraView(b, 2.0)], FIGURES, now_us=T0, now_s=110)
    assert [x.key for x in beats] == ["a", "b", "node:edge-a"]
    node = beats[-1]
    assert node.camera_id is None and node.state is HealthState.STREAMING
    assert node.decoded_fps == pytest.approx(10.0)
    assert (node.frames_decoded, node.reconnects, node.last_frame_ts) == (100, 4, T0 - 5)
    assert (node.spool_depth, node.spool_evictions, node.evidence_backlog) == (12, 3, 4)
    assert node.configured_fps is None and node.interval_s == 2.0
    assert all(x.spool_depth is None for x in beats[:-1])


def test_stopping_round_says_stopped_everywhere() -> None:
    reporter = HealthReporter("edge-a", None, 5.0)
    st = status(state="running")
    beats = reporter.round([CameraView(st, 5.0)], FIGURES, now_us=T0, now_s=101, stopping=True)
    assert [b.state for b in beats] == [HealthState.STOPPED, HealthState.STOPPED]


def test_a_camera_that_leaves_starts_its_rates_afresh() -> None:
    reporter = HealthReporter("edge-a", None, 5.0)
    st = status(state="running", frames_decoded=100)
    reporter.round([CameraView(st, 5.0)], FIGURES, now_us=T0, now_s=110)
    reporter.round([], FIGURES, now_us=T0 + US, now_s=111)
    again = status(state="running", frames_decoded=10, started_s=111.0)
    beat = reporter.camera(CameraView(again, 5.0), now_us=T0 + 2 * US, now_s=112)
    assert beat.decoded_fps == pytest.approx(10.0)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="heartbeat interval"):
        HealthReporter("edge-a", None, 0)


def test_heartbeats_encode_with_the_catalog_schema() -> None:
    reporter = HealthReporter("edge-a", "north", 5.0)
    st = status(state="running", frames_decoded=5, last_frame_us=T0)
    beats = reporter.round([CameraView(st, 5.0)], FIGURES, now_us=T0, now_s=101)
    topic = Serde(InMemorySchemaResolver()).topic(catalog.HEALTH, Heartbeat)
    assert [topic.decode(topic.encode(b)) for b in beats] == beats


def test_publisher_sends_rounds_then_a_stopped_round() -> None:
    sent: list[Heartbeat] = []
    two = threading.Event()

    def publish(beat: Heartbeat) -> None:
        sent.append(beat)
        if sum(1 for b in sent if b.camera_id is None) >= 2:
            two.set()

    st = status(state="running")
    publisher = HeartbeatPublisher(
        HealthReporter("edge-a", None, 0.05),
        lambda: [CameraView(st, 5.0)],
        lambda: FIGURES,
        publish,
    )
    publisher.start()
    assert two.wait(5)
    publisher.stop()
    assert sent[-2:][0].state is HealthState.STOPPED and sent[-1].key == "node:edge-a"
    assert sent[-1].state is HealthState.STOPPED
    assert publisher.sent == len(sent)
    assert all(b.state is HealthState.STREAMING for b in sent[:-2])


def test_a_stopped_camera_is_reported_a_few_rounds_then_left_out() -> None:
    reporter = HealthReporter("edge-a", None, 5.0)
    gone = status("gone", state="stopped")
    failed = status("bad", state="failed", error="no such file")
    views = [CameraView(gone, 5.0), CameraView(failed, 5.0)]
    rounds = [
        [b.key for b in reporter.round(views, FIGURES, now_us=T0 + i * US, now_s=101 + i)]
        for i in range(5)
    ]
    stopped_rounds = HealthReporter.STOPPED_ROUNDS
    assert rounds[:stopped_rounds] == [["gone", "bad", "node:edge-a"]] * stopped_rounds
    assert rounds[stopped_rounds:] == [["bad", "node:edge-a"]] * (5 - stopped_rounds)
    # Started again (a new worker): reported again.
    views[0] = CameraView(status("gone", state="running"), 5.0)
    keys = [b.key for b in reporter.round(views, FIGURES, now_us=T0 + 9 * US, now_s=110)]
    assert keys == ["gone", "bad", "node:edge-a"]
