"""The motion gate's options reach each camera's gate, and what the gate dealt with (warm-ups,
lighting changes, absorbed ghosts) is reported per camera: run report and Prometheus."""

from __future__ import annotations

import socket
from pathlib import Path
from types import MappingProxyType

import httpx
import pytest

from producers.config import Camera
from producers.detectors.factory import split_options
from producers.errors import DetectorError
from producers.metrics import EdgeMetrics
from producers.motion import GATE_DEFAULTS, GateOptions, MotionConfig
from producers.runner import EdgeRunner
from producers.settings import EdgeSettings
from vidsight.settings import load


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
    monkeypatch.delenv("VIDSIGHT_CONFIG", raising=False)
    return tmp_path


def test_the_edge_settings_start_from_the_gates_defaults() -> None:
    fields = EdgeSettings.model_fields
    assert fields["motion_threshold"].default == GATE_DEFAULTS.threshold
    assert fields["motion_min_area"].default == GATE_DEFAULTS.min_area
    assert fields["motion_noise_k"].default == GATE_DEFAULTS.noise_k
    assert fields["motion_warmup_s"].default == GATE_DEFAULTS.warmup_s
    assert fields["motion_absorb_s"].default == GATE_DEFAULTS.absorb_s
    assert fields["motion_step_absorb_s"].default == GATE_DEFAULTS.step_absorb_s
    assert fields["motion_lighting_share"].default == GATE_DEFAULTS.lighting_share


def test_a_cameras_gate_options_override_the_settings() -> None:
    common, _ = split_options("motion", {"gate_absorb_s": 8, "gate_noise_k": 3.5, "min_area": 0.01})
    base = MotionConfig(work_width=320, absorb_s=3.0, min_area=0.001)
    cfg = common.apply(base)
    assert (cfg.absorb_s, cfg.noise_k, cfg.min_area, cfg.work_width) == (8, 3.5, 0.001, 320)
    assert GateOptions().apply(base) is base


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"gate_absorb_s": 0}, "gate_absorb_s"),
        ({"gate_step_absorb_s": -0.4}, "gate_step_absorb_s"),
        ({"gate_lighting_share": 1.5}, "gate_lighting_share"),
        ({"gate_warmup_s": -1}, "gate_warmup_s"),
        ({"gate_noise_k": "lots"}, "gate_noise_k"),
        ({"gate_absorb": 3}, "gate_absorb"),
    ],
)
def test_bad_gate_options_name_the_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(DetectorError, match=rf"detector motion: {key}\b.*allowed options: .*gate_"):
        split_options("motion", options)


def test_bad_gate_config_names_the_field() -> None:
    with pytest.raises(ValueError, match="absorb_s"):
        MotionConfig(absorb_s=0)
    with pytest.raises(ValueError, match="lighting_share"):
        MotionConfig(lighting_share=0)
    with pytest.raises(ValueError, match="step_absorb_s"):
        MotionConfig(step_absorb_s=0)


def test_each_camera_reports_its_warmups_and_absorbed_ghosts(offline: Path) -> None:
    # A lamp lit at the start (learned by the warm-up) goes dark at 1 s: it went dark at
    # once, so it is absorbed as a step after step_absorb_s. A car that entered during the
    # warm-up left its ghost in the warm-up's median, uncovered as it drove on (not a
    # step): absorbed after absorb_s. The second camera's own options keep both longer
    # than the clip.
    port = dead_port()
    settings = load(EdgeSettings, metrics_port=port, drain_timeout_s=0, evidence=False)
    url = "synthetic:crossing?duration=8&flicker=0.45,0.08,0.55,0.2,30,1,0"
    cams = [
        Camera("lamp", "lamp", url, 5.0, "motion", MappingProxyType({})),
        Camera(
            "slow",
            "slow",
            url,
            5.0,
            "motion",
            MappingProxyType({"gate_absorb_s": 60, "gate_step_absorb_s": 60}),
        ),
    ]
    report = EdgeRunner(settings, cams, EdgeMetrics()).run()
    status = {c.camera_id: c for c in report.cameras}
    assert [c.state for c in report.cameras] == ["finished", "finished"]
    lamp, slow = status["lamp"], status["slow"]
    assert (lamp.motion_warmups, lamp.lighting_events, lamp.ghosts_absorbed) == (1, 0, 2)
    assert (slow.motion_warmups, slow.lighting_events, slow.ghosts_absorbed) == (1, 0, 0)
    assert report.as_json()["cameras"][0]["ghosts_absorbed"] == 2
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'vidsight_edge_motion_warmups_total{camera="lamp"} 1.0' in text
    assert 'vidsight_edge_motion_ghosts_absorbed_total{camera="lamp"} 2.0' in text
    assert 'vidsight_edge_motion_ghosts_absorbed_total{camera="slow"} 0.0' in text
