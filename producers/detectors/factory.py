"""Build a detector plugin from a camera's detector block (kind + options).

Each detector kind is one module that defines its options model and detector class and
names them in its ``PLUGIN`` (:class:`~producers.detectors.base.DetectorPlugin`); ``PLUGINS``
below lists those modules, and nothing else branches on a detector kind.

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

from producers.detectors import ground_truth, hog, motion, onnx
from producers.detectors.base import Detector, DetectorPlugin
from producers.detectors.onnx import ModelPool
from producers.errors import DetectorError
from producers.motion import GateOptions

PLUGINS: tuple[DetectorPlugin[Any], ...] = (
    motion.PLUGIN,
    hog.PLUGIN,
    onnx.PLUGIN,
    ground_truth.PLUGIN,
)
"""Every detector kind, in the order messages list them."""
_BY_KIND: Mapping[str, DetectorPlugin[Any]] = {p.kind: p for p in PLUGINS}
DETECTOR_KINDS: tuple[str, ...] = tuple(_BY_KIND)
"""Every detector plugin name accepted in a camera's ``detector.kind``."""


def plugin_for(kind: str) -> DetectorPlugin[Any]:
    """The plugin of a detector kind; DetectorError naming the known kinds otherwise."""
    plugin = _BY_KIND.get(kind)
    if plugin is None:
        raise DetectorError(f"unknown detector kind {kind!r}; known: {', '.join(DETECTOR_KINDS)}")
    return plugin


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
    model = plugin_for(kind).options
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
    plugin = plugin_for(kind)
    if not isinstance(options, plugin.options):
        raise DetectorError(
            f"detector {kind}: options are {type(options).__name__}, not {plugin.options.__name__}"
        )
    return plugin.build(options, pool)
