"""Build a detector plugin from a camera's detector block (kind + options).

Options are validated per plugin (unknown keys are rejected with the allowed ones listed).
A few options apply to every kind and are consumed by the pipeline, not the plugin:
``gate`` (run the motion gate; false analyses every sampled frame), the gate's own
``gate_*`` options for this camera (``producers.motion.GateOptions``) and ``evidence`` (keep
JPEG evidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from producers.detectors.base import Detector
from producers.detectors.ground_truth import GroundTruthDetector, GroundTruthOptions
from producers.detectors.hog import HogOptions
from producers.detectors.motion import MotionDetector, MotionOptions
from producers.detectors.onnx import ModelPool, OnnxOptions
from producers.errors import DetectorError
from producers.motion import GateOptions

_PLUGIN_OPTIONS: dict[str, type[BaseModel]] = {
    "motion": MotionOptions,
    "hog": HogOptions,
    "onnx": OnnxOptions,
    "ground_truth": GroundTruthOptions,
}
DETECTOR_KINDS: tuple[str, ...] = tuple(_PLUGIN_OPTIONS)
"""Every detector plugin name accepted in a camera's ``detector.kind``."""


class CommonOptions(GateOptions):
    """Detector options every kind accepts; the pipeline reads them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gate: bool | None = Field(
        None,
        description="run the motion gate (false: analyse every sample); default true, "
        "false for ground_truth, whose truth should not depend on pixels changing",
    )
    evidence: bool = Field(True, description="upload a JPEG of analysed frames with objects")


def split_options(kind: str, options: Mapping[str, Any]) -> tuple[CommonOptions, BaseModel]:
    """Validate a detector block: (common options, the plugin's own options)."""
    model = _PLUGIN_OPTIONS.get(kind)
    if model is None:
        raise DetectorError(f"unknown detector kind {kind!r}; known: {', '.join(DETECTOR_KINDS)}")
    common_keys = set(CommonOptions.model_fields)
    common = {k: v for k, v in options.items() if k in common_keys}
    own = {k: v for k, v in options.items() if k not in common_keys}
    try:
        return CommonOptions(**common), model(**own)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<options>'}: {e['msg']}" for e in exc.errors()
        )
        allowed = ", ".join(sorted(common_keys | set(model.model_fields)))
        raise DetectorError(f"detector {kind}: {problems} (allowed options: {allowed})") from exc


def build_detector(kind: str, options: BaseModel, pool: ModelPool) -> Detector:
    """The plugin instance for validated options (loads models, may raise DetectorError)."""
    if isinstance(options, MotionOptions):
        return MotionDetector(options)
    if isinstance(options, HogOptions):
        from producers.detectors.hog import HogDetector

        return HogDetector(options)
    if isinstance(options, OnnxOptions):
        from producers.detectors.onnx import OnnxDetector

        return OnnxDetector(options, pool)
    if isinstance(options, GroundTruthOptions):
        return GroundTruthDetector(options)
    raise DetectorError(f"no plugin for detector kind {kind!r}")
