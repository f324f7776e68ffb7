"""The CLI: validate/apply dry runs, and a simulated run with no broker spools everything."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from producers.cli import cameras, edge
from producers.config import load_cameras_text
from producers.events import decode_event
from producers.spool import Spool
from producers.synthetic.cameras import simulated_cameras


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings pointing at ports where nothing listens: no broker, registry or S3."""
    monkeypatch.setenv("VIDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIDSIGHT_KAFKA_BOOTSTRAP", f"127.0.0.1:{dead_port()}")
    monkeypatch.setenv("VIDSIGHT_REGISTRY_URL", f"http://127.0.0.1:{dead_port()}")
    monkeypatch.setenv("VIDSIGHT_S3_ENDPOINT", f"http://127.0.0.1:{dead_port()}")
    monkeypatch.setenv("VIDSIGHT_S3_TIMEOUT_S", "0.5")
    monkeypatch.delenv("VIDSIGHT_CONFIG", raising=False)
    return tmp_path


def test_validate_and_dry_run_apply(tmp_path: Path) -> None:
    path = tmp_path / "cams.yaml"
    path.write_text(
        "cameras:\n  - {id: a, source: 'synthetic:crossing', detector: {kind: motion}}\n"
    )
    runner = CliRunner()
    result = runner.invoke(cameras, ["validate", str(path)])
    assert result.exit_code == 0 and "1 camera(s) valid" in result.output
    result = runner.invoke(cameras, ["apply", str(path), "--dry-run"])
    assert result.exit_code == 0 and "nothing published" in result.output
    path.write_text("cameras:\n  - {id: a, source: 'synthetic:crossing', fps: -1}\n")
    result = runner.invoke(cameras, ["validate", str(path)])
    assert result.exit_code != 0 and "fps" in str(result.exception)


def test_simulated_cameras_are_valid_camera_entries() -> None:
    cams = simulated_cameras(3, scene_duration=10, realtime=False, seed=5, prefix="s")
    assert [c.camera_id for c in cams] == ["s-0", "s-1", "s-2"]
    text = "cameras:\n" + "".join(
        f"  - {{id: {c.camera_id}, source: '{c.source}', detector: {{kind: {c.detector_kind}}}}}\n"
        for c in cams
    )
    assert [c.source for c in load_cameras_text(text)] == [c.source for c in cams]


def test_a_run_without_broker_or_s3_spools_every_event_and_image(offline: Path) -> None:
    result = CliRunner().invoke(
        edge,
        [
            "simulate",
            "--cameras",
            "2",
            "--fast",
            "--scene-duration",
            "6",
            "--fps",
            "5",
            "--drain-timeout",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output  # not drained: kept for the next run
    report = json.loads(result.output.strip().splitlines()[-1])
    assert [c["state"] for c in report["cameras"]] == ["finished", "finished"]
    assert report["delivered"] == 0 and not report["drained"]
    camera_events = sum(c["events"] for c in report["cameras"])
    assert camera_events > 60 and report["heartbeats"] >= 3  # node + 2 cameras, at least once
    spooled = camera_events + report["heartbeats"]
    assert report["events"]["pending_records"] == spooled
    assert report["evidence"]["pending_records"] > 0
    # The spool holds every event and heartbeat, each camera's in order.
    spool = Spool(offline / "edge-spool" / "events")
    events = [decode_event(r.payload) for r in spool.read(max_records=10_000)]
    spool.close()
    assert len(events) == spooled
    assert {e.topic for e in events} == {
        "vidsight.frames",
        "vidsight.detections",
        "vidsight.health",
    }
    assert {e.key for e in events if e.topic != "vidsight.health"} == {b"sim-0", b"sim-1"}
    node = f"node:{socket.gethostname()}".encode()
    assert {e.key for e in events if e.topic == "vidsight.health"} == {b"sim-0", b"sim-1", node}
    status = CliRunner().invoke(edge, ["spool"])
    assert status.exit_code == 0 and str(spooled) in status.output


def test_metrics_are_exported_while_running(offline: Path) -> None:
    from types import MappingProxyType

    import httpx

    from producers.config import Camera
    from producers.metrics import EdgeMetrics
    from producers.runner import EdgeRunner
    from producers.settings import EdgeSettings
    from vidsight.settings import load

    port = dead_port()
    settings = load(
        EdgeSettings,
        metrics_port=port,
        drain_timeout_s=0,
        reconnect_initial_s=0.05,
        reconnect_max_attempts=2,
        evidence=False,
    )
    cams = [
        Camera("syn", "syn", "synthetic:crossing?duration=4", 5.0, "ground_truth",
               MappingProxyType({})),
        Camera("dead", "dead", f"rtsp://127.0.0.1:{dead_port()}/x", 5.0, "motion",
               MappingProxyType({})),
    ]  # fmt: skip
    metrics = EdgeMetrics()
    report = EdgeRunner(settings, cams, metrics).run()
    assert {c.camera_id: c.state for c in report.cameras} == {"syn": "finished", "dead": "failed"}
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'vidsight_edge_frames_decoded_total{camera="syn"} 20.0' in text
    assert 'vidsight_edge_frames_analysed_total{camera="syn"} 20.0' in text
    assert 'vidsight_edge_reconnects_total{camera="dead"} 2.0' in text
    assert 'vidsight_edge_camera_errors_total{camera="dead"} 1.0' in text
    assert "vidsight_edge_detections_total" in text
    spooled = report.events.pending_records
    assert spooled > 20 and f'vidsight_edge_spool_records{{spool="events"}} {spooled}.0' in text
