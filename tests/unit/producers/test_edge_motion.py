"""The motion gate sees changed pixels, ignores a static scene and holds briefly after motion."""

from __future__ import annotations

import numpy as np
import pytest

from producers.frames import Frame, luma_of_bgr
from producers.motion import MotionConfig, MotionGate, subsample_step


def scene(x: int | None, width: int = 320, height: int = 180) -> np.ndarray:
    img = np.full((height, width), 120, dtype=np.uint8)
    if x is not None:
        img[60:100, x : x + 20] = 30
    return img


def test_static_scene_has_no_motion() -> None:
    gate = MotionGate(MotionConfig(work_width=160))
    results = [gate.update(scene(None), i * 0.2) for i in range(15)]
    assert all(not r.moving and r.score == 0.0 for r in results)


def test_first_frame_only_learns_the_background() -> None:
    gate = MotionGate()
    first = gate.update(scene(50), 0.0)
    assert not first.moving and first.score == 0.0
    assert gate.counts.warmups == 1


def test_a_moving_object_opens_the_gate_where_it_is() -> None:
    gate = MotionGate(MotionConfig(work_width=160, min_area=0.001, hold_frames=0, warmup_s=0))
    gate.update(scene(None), 0.0)
    r = gate.update(scene(100), 0.2)
    assert r.moving
    step = subsample_step(320, 160)
    ys, xs = np.nonzero(r.mask)
    assert xs.min() * step >= 100 - step and xs.max() * step < 120 + step
    assert ys.min() * step >= 60 - step and ys.max() * step < 100 + step
    # 20x40 px of 320x180 changed.
    assert r.score == pytest.approx(20 * 40 / (320 * 180), rel=0.2)


def test_small_changes_below_min_area_stay_closed() -> None:
    gate = MotionGate(MotionConfig(min_area=0.5, hold_frames=0, warmup_s=0))
    gate.update(scene(None), 0.0)
    assert not gate.update(scene(100), 0.2).moving


def test_hold_keeps_the_gate_open_after_motion_stops() -> None:
    cfg = MotionConfig(min_area=0.001, hold_frames=2, alpha=1.0, fg_alpha_ratio=1.0, warmup_s=0)
    gate = MotionGate(cfg)
    gate.update(scene(None), 0.0)
    assert gate.update(scene(100), 0.2).moving
    # alpha=1 learns the new frame at once: the following identical frames show no change.
    flags = [gate.update(scene(100), 0.4 + i * 0.2).moving for i in range(4)]
    assert flags == [True, True, False, False]


def test_a_stopped_object_fades_into_the_background() -> None:
    gate = MotionGate(MotionConfig(alpha=0.2, fg_alpha_ratio=0.5, hold_frames=0, warmup_s=0))
    gate.update(scene(None), 0.0)
    scores = [gate.update(scene(100), 0.2 + i * 0.2).score for i in range(60)]
    assert scores[0] > 0 and scores[-1] == 0.0


def test_resolution_change_relearns() -> None:
    gate = MotionGate()
    gate.update(scene(None), 0.0)
    r = gate.update(scene(None, width=640, height=360), 0.2)
    assert r.score == 0.0 and r.mask.shape == (180 // 2 + 0, 640 // 4)
    gate.reset()
    assert not gate.update(scene(10), 0.4).moving


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ValueError):
        MotionConfig(alpha=0)
    with pytest.raises(ValueError):
        MotionConfig(work_width=4)


def test_frame_luma_matches_bt601_and_is_lazy() -> None:
    bgr = np.zeros((2, 2, 3), dtype=np.uint8)
    bgr[0, 0] = (255, 255, 255)
    bgr[0, 1] = (0, 0, 255)
    calls = []

    def load() -> np.ndarray:
        calls.append(1)
        return bgr

    frame = Frame(ts_us=1, pts_s=0.0, width=2, height=2, bgr=load)
    assert not calls
    luma = frame.luma()
    assert luma[0, 0] == 255 and abs(int(luma[0, 1]) - 76) <= 1
    assert np.array_equal(luma, luma_of_bgr(bgr))
    frame.bgr()
    assert calls == [1]
    with pytest.raises(ValueError):
        Frame(ts_us=1, pts_s=0.0, width=2, height=2)


def test_the_place_of_an_absorbed_object_that_moves_on_is_not_a_ghost() -> None:
    # An object walks in, stands until it is absorbed, then leaves: its place shows the
    # background from before the absorption (the prior), which is not a change.
    cfg = MotionConfig(work_width=160, min_area=0.001, hold_frames=0, warmup_s=0, absorb_s=1.0)
    gate = MotionGate(cfg)
    gate.update(scene(None), 0.0)
    t = 0.0
    for x in range(0, 101, 10):  # walks in over 2 s: not a step
        t += 0.2
        assert gate.update(scene(x), t).moving
    standing = []
    while not standing or standing[-1]:
        t += 0.2
        standing.append(gate.update(scene(100), t).moving)
    assert len(standing) > 1 and t <= 2.2 + 1.0 + 1.0 / 4 + 0.4  # reported, then absorbed
    assert gate.counts.ghosts_absorbed == 1
    gone = gate.update(scene(None), t + 0.2)
    assert not gone.mask.any() and not gone.moving


def test_a_region_that_appears_at_once_on_a_young_background_is_absorbed_as_a_step() -> None:
    # Warm-up just learned the scene: something there switches at once and stays (a lamp
    # that went dark). Reported until step_absorb_s, then background; switching back is
    # not a change either (the prior).
    cfg = MotionConfig(work_width=160, min_area=0.001, hold_frames=0, warmup_s=0, step_absorb_s=0.4)
    gate = MotionGate(cfg)
    gate.update(scene(100), 0.0)
    flags = [gate.update(scene(None), 0.2 + i * 0.2).moving for i in range(4)]
    assert flags == [True, True, False, False]  # 0.2 and 0.4 s after it switched
    assert gate.counts.ghosts_absorbed == 1
    assert not gate.update(scene(100), 1.2).mask.any()
