"""Detector kinds register themselves: each module's PLUGIN, listed once in the factory."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from producers.detectors import ground_truth, hog, motion, onnx
from producers.detectors.factory import (
    DETECTOR_KINDS,
    PLUGINS,
    build_detector,
    plugin_for,
    split_options,
)
from producers.detectors.onnx import ModelPool
from producers.errors import DetectorError


def test_every_detector_module_names_its_plugin_once() -> None:
    assert PLUGINS == (motion.PLUGIN, hog.PLUGIN, onnx.PLUGIN, ground_truth.PLUGIN)
    assert DETECTOR_KINDS == ("motion", "hog", "onnx", "ground_truth")
    for plugin in PLUGINS:
        assert plugin_for(plugin.kind) is plugin
        assert issubclass(plugin.options, BaseModel)


@pytest.mark.parametrize("kind", ["motion", "hog", "ground_truth"])
def test_the_options_of_a_kind_build_its_detector(kind: str) -> None:
    _, options = split_options(kind, {})
    assert isinstance(options, plugin_for(kind).options)
    detector = build_detector(kind, options, ModelPool())
    assert detector.model == kind
    detector.close()


def test_options_of_another_kind_are_refused_by_name() -> None:
    _, options = split_options("motion", {})
    with pytest.raises(DetectorError, match="detector hog: options are MotionOptions, not Hog"):
        build_detector("hog", options, ModelPool())


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(DetectorError, match="unknown detector kind 'yolo'; known: motion, hog"):
        plugin_for("yolo")
    with pytest.raises(DetectorError, match="unknown detector kind 'yolo'"):
        build_detector("yolo", motion.MotionOptions(), ModelPool())
