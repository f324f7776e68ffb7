"""What ``vidsight edge status`` prints from camera_status heartbeats (pure part)."""

from __future__ import annotations

from producers.health_status import status_lines
from schemas.records import HealthState, Heartbeat, heartbeat_id

S = 1_000_000
NOW = 1_700_000_000 * S


def beat(node: str, camera: str | None, age_s: float, **kw: object) -> Heartbeat:
    ts = NOW - round(age_s * S)
    values: dict[str, object] = {
        "heartbeat_id": heartbeat_id(node, camera, ts),
        "node_id": node,
        "camera_id": camera,
        "state": HealthState.STREAMING,
        "interval_s": 5.0,
        "ts": ts,
    }
    values.update(kw)
    return Heartbeat(**values)  # type: ignore[arg-type]


def test_nodes_then_their_cameras_with_state_frame_age_and_fps() -> None:
    beats = [
        beat("edge-b", None, 1, site="north", spool_depth=4, spool_evictions=0),
        beat(
            "edge-a",
            "gate-2",
            2,
            state=HealthState.RECONNECTING,
            last_frame_ts=NOW - 30 * S,
            configured_fps=5.0,
            reconnects=3,
            error="connection refused",
        ),
        beat(
            "edge-a",
            "gate-1",
            1,
            last_frame_ts=NOW - S // 10,
            configured_fps=5.0,
            analysed_fps=4.9,
            decoded_fps=25.0,
            detector_latency_ms=12.0,
        ),
        beat("edge-a", None, 2, evidence_backlog=2),
    ]
    lines = status_lines(beats, NOW)
    assert [(x.node_id, x.camera_id) for x in lines] == [
        ("edge-a", None),
        ("edge-a", "gate-1"),
        ("edge-a", "gate-2"),
        ("edge-b", None),
    ]
    node_a, gate1, gate2, node_b = lines
    assert gate1.state == "streaming" and gate1.fps == "4.9/5 (decoded 25.0)"
    assert gate1.last_frame_s is not None and abs(gate1.last_frame_s - 0.1) < 1e-9
    assert "detector 12.0 ms" in gate1.detail
    assert gate2.state == "reconnecting" and gate2.last_frame_s == 30.0
    assert "reconnects 3" in gate2.detail and "connection refused" in gate2.detail
    assert "evidence backlog 2" in node_a.detail
    assert node_b.detail.startswith("site north, spool 4")
    assert node_b.as_json()["last_heard_s"] == 1.0


def test_a_silent_sender_is_shown_silent_unless_it_stopped() -> None:
    beats = [
        beat("edge-a", None, 60),  # killed: its last heartbeat a minute old (interval 5 s)
        beat("edge-a", "gate-1", 60, last_frame_ts=NOW - 61 * S),
        beat("edge-c", None, 600, state=HealthState.STOPPED),  # shut down cleanly
    ]
    states = [(x.node_id, x.camera_id, x.state) for x in status_lines(beats, NOW)]
    assert states == [
        ("edge-a", None, "silent (streaming)"),
        ("edge-a", "gate-1", "silent (streaming)"),
        ("edge-c", None, "stopped"),
    ]


def test_cameras_of_a_node_without_its_own_heartbeat() -> None:
    (node, cam) = status_lines([beat("edge-z", "gate-9", 1)], NOW)
    assert (node.node_id, node.camera_id, node.state) == ("edge-z", None, "no node heartbeat")
    assert cam.camera_id == "gate-9"
