"""The synthetic scene is deterministic and its ground truth is self-consistent."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.synthetic.render import background, pixel_box, render
from producers.synthetic.scene import (
    CENTRE_LINE,
    Line,
    Scene,
    SceneSpec,
    crossing_of,
    side,
)
from schemas.records import CrossingDirection, Point


def test_same_seed_same_scene_other_seed_other_scene() -> None:
    a, b, c = Scene(SceneSpec(seed=3)), Scene(SceneSpec(seed=3)), Scene(SceneSpec(seed=4))
    assert [a.object(i) for i in range(20)] == [b.object(i) for i in range(20)]
    assert [a.object(i) for i in range(20)] != [c.object(i) for i in range(20)]
    assert a.truth_at(17.3) == b.truth_at(17.3)


def test_objects_have_sequential_ids_and_enter_in_order() -> None:
    scene = Scene()
    objs = [scene.object(i) for i in range(10)]
    assert [o.object_id for o in objs] == list(range(1, 11))
    assert all(a.t_enter < b.t_enter for a, b in itertools.pairwise(objs))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.floats(0, 600))
def test_truth_boxes_are_normalised_and_never_overlap(seed: int, t: float) -> None:
    truth = Scene(SceneSpec(seed=seed)).truth_at(t)
    for box in truth:
        b = box.bbox
        assert 0.0 <= b.x1 < b.x2 <= 1.0 and 0.0 <= b.y1 < b.y2 <= 1.0
    for i, a in enumerate(truth):
        for other in truth[i + 1 :]:
            o = other.bbox
            overlap_x = min(a.bbox.x2, o.x2) - max(a.bbox.x1, o.x1)
            overlap_y = min(a.bbox.y2, o.y2) - max(a.bbox.y1, o.y1)
            assert overlap_x <= 0 or overlap_y <= 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), index=st.integers(0, 200))
def test_every_object_crosses_the_centre_once_in_its_direction(seed: int, index: int) -> None:
    obj = Scene(SceneSpec(seed=seed)).object(index)
    hit = crossing_of(obj, CENTRE_LINE)
    assert hit is not None
    assert obj.t_enter < hit.t_s < obj.t_exit
    assert obj.anchor_at(hit.t_s).x == pytest.approx(0.5)
    # Left half is side a (DESIGN.md), so moving right is a_to_b.
    expected = CrossingDirection.A_TO_B if obj.vx > 0 else CrossingDirection.B_TO_A
    assert hit.direction == expected
    before, after = obj.anchor_at(hit.t_s - 0.1), obj.anchor_at(hit.t_s + 0.1)
    assert (side(CENTRE_LINE, before) > 0) == (expected == CrossingDirection.A_TO_B)
    assert (side(CENTRE_LINE, after) > 0) != (side(CENTRE_LINE, before) > 0)


def test_crossings_window_and_segment_extent() -> None:
    scene = Scene(SceneSpec(seed=1))
    crossings = scene.crossings(0, 60)
    assert crossings == sorted(crossings, key=lambda c: c.t_s)
    assert {c.object_id for c in crossings} == {
        o.object_id
        for o in scene.objects_between(0, 60)
        if crossing_of(o, CENTRE_LINE) and 0 <= crossing_of(o, CENTRE_LINE).t_s < 60  # type: ignore[union-attr]
    }
    # A segment that covers only the top of the frame is crossed by nobody (anchors are low).
    top = Line("top", Point(0.5, 0.0), Point(0.5, 0.1))
    assert scene.crossings(0, 60, top) == []
    # A horizontal line is never crossed by horizontal motion.
    flat = Line("flat", Point(0.0, 0.5), Point(1.0, 0.5))
    assert scene.crossings(0, 60, flat) == []


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="labels"):
        SceneSpec(labels=("unicorn",))
    with pytest.raises(ValueError, match="lanes"):
        SceneSpec(lanes=20)


def test_render_draws_each_truth_box_exactly() -> None:
    scene = Scene(SceneSpec(seed=2))
    t = 12.0
    truth = scene.truth_at(t)
    assert truth
    bg = background(320, 180, 2)
    img = render(bg, truth)
    for box in truth:
        x1, y1, x2, y2 = pixel_box(box, 320, 180)
        patch = img[y1:y2, x1:x2].reshape(-1, 3)
        assert (patch == patch[0]).all()  # solid colour
        assert not np.array_equal(patch[0], bg[y1, x1])
    untouched = np.ones(img.shape[:2], dtype=bool)
    for box in truth:
        x1, y1, x2, y2 = pixel_box(box, 320, 180)
        untouched[y1:y2, x1:x2] = False
    assert np.array_equal(img[untouched], bg[untouched])


def test_render_noise_is_seeded_by_frame() -> None:
    bg = background(64, 36)
    assert np.array_equal(render(bg, (), frame_no=5, noise=3), render(bg, (), frame_no=5, noise=3))
    assert not np.array_equal(
        render(bg, (), frame_no=5, noise=3), render(bg, (), frame_no=6, noise=3)
    )
