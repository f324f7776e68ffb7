"""Track ids stay stable per object, survive short gaps, and never jump between objects."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.detectors.base import Detection
from producers.synthetic.scene import Scene, SceneSpec
from producers.tracking import Tracker, TrackerConfig, greedy_match, iou_matrix
from schemas.records import BBox


def det(
    x1: float, y1: float, x2: float, y2: float, score: float = 0.9, label: str = "car"
) -> Detection:
    return Detection(label, score, BBox(x1, y1, x2, y2))


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 1, 1], [0, 0, 0.5, 0.5]], dtype=float)
    b = np.array([[0, 0, 1, 1], [0.5, 0.5, 1, 1], [2, 2, 3, 3]], dtype=float)
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    assert m[0, 0] == 1.0 and m[0, 1] == pytest.approx(0.25) and m[0, 2] == 0.0
    assert m[1, 1] == 0.0
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_greedy_match_prefers_the_best_pairs() -> None:
    score = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_match(score, 0.3) == [(0, 0)]
    assert sorted(greedy_match(score, 0.05)) == [(0, 0), (1, 1)]
    assert greedy_match(np.zeros((0, 0)), 0.1) == []


def truth_run(
    scene: Scene, fps: float, seconds: float, drop: float = 0.0, jitter: float = 0.0, seed: int = 0
) -> dict[int, set[int]]:
    """Feed the scene's truth to a tracker; object id -> track ids given to it."""
    rng = random.Random(seed)
    tracker = Tracker(first_id=100)
    seen: dict[int, set[int]] = {}
    for n in range(int(seconds * fps)):
        t = n / fps
        truth = [tb for tb in scene.truth_at(t) if tb.bbox.area > 0.001]
        dets = []
        kept = []
        for tb in truth:
            if rng.random() < drop:
                continue
            b = tb.bbox
            j = [rng.uniform(-jitter, jitter) for _ in range(4)]
            dets.append(
                Detection(tb.label, 0.9, BBox(b.x1 + j[0], b.y1 + j[1], b.x2 + j[2], b.y2 + j[3]))
            )
            kept.append(tb)
        out = tracker.update(dets, t)
        assert len(out) == len(dets)
        assert len({o.track_id for o in out}) == len(out)
        for tb, obj in zip(kept, out, strict=True):
            seen.setdefault(tb.object_id, set()).add(obj.track_id)
    return seen


@pytest.mark.parametrize("fps", [5.0, 2.0])
def test_each_scene_object_keeps_one_track_id(fps: float) -> None:
    seen = truth_run(Scene(SceneSpec(seed=5)), fps, 120)
    assert len(seen) > 20
    assert all(len(ids) == 1 for ids in seen.values()), seen
    all_ids = [next(iter(ids)) for ids in seen.values()]
    assert len(set(all_ids)) == len(all_ids)  # no id shared by two objects
    assert min(all_ids) == 100


def test_ids_survive_dropped_detections_and_box_jitter() -> None:
    seen = truth_run(Scene(SceneSpec(seed=9)), 5.0, 120, drop=0.2, jitter=0.004, seed=1)
    fragmented = [oid for oid, ids in seen.items() if len(ids) > 1]
    assert len(fragmented) <= 1, seen


def test_lost_track_buffer() -> None:
    cfg = TrackerConfig(max_lost_s=1.0)
    tracker = Tracker(cfg)
    first = tracker.update([det(0.1, 0.1, 0.2, 0.2)], 0.0)[0].track_id
    tracker.update([], 0.5)  # missed for half a second
    assert tracker.update([det(0.1, 0.1, 0.2, 0.2)], 0.8)[0].track_id == first
    tracker.update([], 1.0)
    # Gone longer than max_lost_s: a new id.
    assert tracker.update([det(0.1, 0.1, 0.2, 0.2)], 2.5)[0].track_id != first


def test_low_score_detections_continue_tracks_but_never_start_them() -> None:
    tracker = Tracker()
    assert tracker.update([det(0.1, 0.1, 0.2, 0.2, score=0.3)], 0.0) == []
    tid = tracker.update([det(0.1, 0.1, 0.2, 0.2, score=0.9)], 0.2)[0].track_id
    out = tracker.update([det(0.11, 0.1, 0.21, 0.2, score=0.3)], 0.4)
    assert [o.track_id for o in out] == [tid]
    assert tracker.update([det(0.5, 0.5, 0.6, 0.6, score=0.05)], 0.6) == []


def test_labels_do_not_mix_when_class_aware() -> None:
    tracker = Tracker()
    car = tracker.update([det(0.1, 0.1, 0.2, 0.2, label="car")], 0.0)[0].track_id
    person = tracker.update([det(0.1, 0.1, 0.2, 0.2, label="person")], 0.2)[0].track_id
    assert person != car
    agnostic = Tracker(TrackerConfig(class_aware=False))
    a = agnostic.update([det(0.1, 0.1, 0.2, 0.2, label="car")], 0.0)[0].track_id
    b = agnostic.update([det(0.1, 0.1, 0.2, 0.2, label="truck")], 0.2)[0]
    assert b.track_id == a and b.label == "truck"


def test_fast_small_object_keeps_its_id_without_overlap() -> None:
    tracker = Tracker()
    ids = set()
    # Moves its own width every frame: consecutive boxes never overlap.
    for n in range(10):
        x = 0.05 + 0.04 * n
        ids |= {o.track_id for o in tracker.update([det(x, 0.5, x + 0.04, 0.62)], n * 0.2)}
    assert len(ids) == 1


def test_two_crossing_paths_keep_their_ids() -> None:
    tracker = Tracker()
    a_ids, b_ids = set(), set()
    for n in range(20):
        xa = 0.1 + 0.03 * n
        xb = 0.8 - 0.03 * n
        out = tracker.update([det(xa, 0.2, xa + 0.1, 0.3), det(xb, 0.6, xb + 0.1, 0.7)], n * 0.2)
        a_ids.add(out[0].track_id)
        b_ids.add(out[1].track_id)
    assert len(a_ids) == 1 and len(b_ids) == 1 and a_ids != b_ids


@settings(max_examples=40, deadline=None)
@given(
    boxes=st.lists(
        st.lists(
            st.tuples(
                st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.01, 0.1), st.floats(0.01, 0.1)
            ),
            max_size=6,
        ),
        min_size=1,
        max_size=15,
    )
)
def test_ids_are_unique_within_a_frame_whatever_the_input(
    boxes: list[list[tuple[float, float, float, float]]],
) -> None:
    tracker = Tracker()
    for n, frame in enumerate(boxes):
        out = tracker.update([det(x, y, x + w, y + h) for x, y, w, h in frame], n * 0.2)
        assert len({o.track_id for o in out}) == len(out) == len(frame)
