"""The ``ground_truth`` detector: the synthetic scene's own boxes, labels and object ids.

For demos and end-to-end tests that need exact counts downstream: it returns precisely what
the scene rendered, with the scene's object id as the track id, so every crossing and zone
event can be predicted from the scene's ground truth. It fails on any other source.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from producers.detectors.base import Detection, DetectorPlugin
from producers.errors import DetectorError
from producers.frames import Frame
from producers.motion import MotionResult
from schemas.records import DetectorKind


class GroundTruthOptions(BaseModel):
    """Options of the ground-truth detector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_area: float = Field(
        0.0, ge=0, le=1, description="hide objects whose visible box is smaller (entering/leaving)"
    )


class GroundTruthDetector:
    """Reads ``frame.truth``; the score is always 1.0."""

    model = DetectorKind.GROUND_TRUTH.value

    def __init__(self, options: GroundTruthOptions) -> None:
        self.options = options

    def detect(self, frame: Frame, motion: MotionResult) -> list[Detection]:
        """The scene's truth for this frame."""
        if frame.truth is None:
            raise DetectorError("the ground_truth detector needs a synthetic: source")
        return [
            Detection(t.label, 1.0, t.bbox, identity=t.object_id)
            for t in frame.truth
            if t.bbox.area >= self.options.min_area
        ]

    def close(self) -> None:
        """Nothing to release."""


# Its CameraConfig carries the DetectorKind symbol of the same name (older records: unknown
# with the option plugin=ground_truth, still read as this kind by producers.config).
PLUGIN = DetectorPlugin(
    DetectorKind.GROUND_TRUTH.value,
    GroundTruthOptions,
    lambda options, _pool: GroundTruthDetector(options),
)
