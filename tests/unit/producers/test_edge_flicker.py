"""The flicker nuisance of synthetic scenes: lit on schedule, drawn, never ground truth."""

from __future__ import annotations

import pytest

from producers.errors import SourceError
from producers.sources.factory import parse_source
from producers.synthetic.render import LIGHT_COLOUR, background, render
from producers.synthetic.scene import Flicker, Scene, SceneSpec
from schemas.records import BBox

LIGHT = BBox(0.45, 0.08, 0.55, 0.2)


def test_the_light_is_on_for_on_s_every_period_from_the_offset() -> None:
    f = Flicker(LIGHT, period_s=6.0, on_s=1.0, offset_s=3.0)
    assert [f.is_on(t) for t in (0.0, 2.9, 3.0, 3.9, 4.0, 9.5, 10.1)] == [
        False, False, True, True, False, True, False,
    ]  # fmt: skip
    assert f.onsets(0, 14) == [3.0, 9.0]
    assert f.onsets(4, 21.0) == [9.0, 15.0]
    with pytest.raises(ValueError, match="on_s"):
        Flicker(LIGHT, period_s=1.0, on_s=1.0)
    with pytest.raises(ValueError, match="box"):
        Flicker(BBox(0.5, 0.1, 0.4, 0.2))


def test_the_light_is_drawn_but_not_in_the_ground_truth() -> None:
    scene = Scene(SceneSpec(seed=1, flicker=Flicker(LIGHT)))
    assert scene.lights_at(3.5) == (LIGHT,) and scene.lights_at(5.0) == ()
    assert scene.truth_at(3.5) == Scene(SceneSpec(seed=1)).truth_at(3.5)
    img = render(background(640, 360), (), lights=scene.lights_at(3.5))
    assert tuple(img[50, 320]) == LIGHT_COLOUR
    assert tuple(render(background(640, 360), ())[50, 320]) != LIGHT_COLOUR


def test_the_url_option() -> None:
    spec = parse_source("synthetic:crossing?flicker=0.45,0.08,0.55,0.2,8,0.5,2")
    assert spec.synthetic is not None
    assert spec.synthetic.scene.flicker == Flicker(LIGHT, 8.0, 0.5, 2.0)
    with pytest.raises(SourceError, match="flicker"):
        parse_source("synthetic:crossing?flicker=0.1,0.2")
    with pytest.raises(SourceError, match="flicker"):
        parse_source("synthetic:crossing?flicker=0.1,0.2,0.3,x")
