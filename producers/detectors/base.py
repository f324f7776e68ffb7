"""What every detector plugin returns and the interface the pipeline calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from pydantic import BaseModel

from producers.frames import Frame
from producers.motion import MotionResult
from schemas.records import BBox

if TYPE_CHECKING:
    from producers.detectors.onnx import ModelPool

OptionsT = TypeVar("OptionsT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Detection:
    """One detector hit: label, confidence 0..1 and a normalised box.

    ``identity`` is set only by the ground-truth detector of synthetic scenes: the scene's own
    object id, which the pipeline uses as the track id instead of running the tracker.
    """

    label: str
    score: float
    bbox: BBox
    identity: int | None = None


class Detector(Protocol):
    """A detector plugin. ``model`` names it in Detections events (e.g. ``onnx:yolo11n``)."""

    model: str

    def detect(self, frame: Frame, motion: MotionResult) -> list[Detection]:
        """The objects on one frame; ``motion`` is the gate's result for the same frame."""
        ...

    def close(self) -> None:
        """Release the plugin's resources."""
        ...


@dataclass(frozen=True, slots=True)
class DetectorPlugin(Generic[OptionsT]):
    """One detector kind: its name in ``detector.kind``, its options model, how to build it.

    Each detector module defines its plugin as ``PLUGIN``; ``factory.py`` lists the modules.
    """

    kind: str
    options: type[OptionsT]
    build: Callable[[OptionsT, ModelPool], Detector]
    """Builds the detector from validated options (may load models, raise DetectorError);
    the pool shares loaded model sessions between cameras."""


def clip_box(x1: float, y1: float, x2: float, y2: float) -> BBox | None:
    """A normalised box clipped to the frame, or None when nothing of it is inside."""
    x1 = min(max(x1, 0.0), 1.0)
    y1 = min(max(y1, 0.0), 1.0)
    x2 = min(max(x2, 0.0), 1.0)
    y2 = min(max(y2, 0.0), 1.0)
    if x2 <= x1 or y2 <= y1:
        return None
    return BBox(x1, y1, x2, y2)
