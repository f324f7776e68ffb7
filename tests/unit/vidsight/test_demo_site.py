"""The demo site: quiet scene ends, exact ground-truth expectations, a valid site file."""

from __future__ import annotations

from producers.config import load_cameras_text
from producers.synthetic.scene import Scene, SceneSpec
from stream_processors.config import parse_sensors_yaml
from vidsight.demo.site import (
    FPS,
    QUIET_MARGIN_S,
    crossings,
    demo_site,
    expected_crossings,
    quiet_end,
)


def test_quiet_end_has_no_crossing_near_it_and_is_a_frame_time() -> None:
    scene = Scene(SceneSpec(seed=11))
    for near in (10.0, 30.0, 60.0, 61.3):
        end = quiet_end(scene, near)
        assert end >= near
        assert abs(end * FPS - round(end * FPS)) < 1e-6
        assert not [
            c for c in crossings(scene, end + QUIET_MARGIN_S) if abs(c.t_s - end) < QUIET_MARGIN_S
        ]


def test_expected_crossings_count_every_crossing_before_the_end() -> None:
    site = demo_site(60.0)
    assert len(site.cameras) == 3 and len(set(site.camera_ids)) == 3
    for cam in site.cameras:
        want = expected_crossings(cam)
        assert sum(want.values()) == len(crossings(cam.scene, cam.duration_s)) > 5


def test_site_file_is_valid_for_cameras_and_sensors_apply() -> None:
    site = demo_site(20.0, cameras=2, prefix="t")
    text = site.yaml(start_us=1_700_000_000_000_000)
    cams = load_cameras_text(text)
    assert [c.camera_id for c in cams] == list(site.camera_ids)
    assert all(c.detector_kind == "ground_truth" and "start=" in c.source for c in cams)
    sensors = parse_sensors_yaml(text, updated_ts=1)
    assert {s.kind.value for s in sensors} == {"tripwire", "zone", "loitering"}
    assert len(sensors) == 6
