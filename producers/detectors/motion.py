"""The ``motion`` detector: foreground blobs of the motion gate's mask as boxes."""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from producers.detectors.base import Detection, DetectorPlugin, clip_box
from producers.frames import Frame
from producers.motion import MotionResult


class MotionOptions(BaseModel):
    """Options of the motion detector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_area: float = Field(0.002, gt=0, le=1, description="smallest blob, fraction of frame")
    resolution: int = Field(
        320, ge=64, le=1920, description="width of the mask the blobs are found on, pixels"
    )
    dilate: int = Field(1, ge=0, le=10, description="dilation passes that merge nearby parts")
    label: str = Field("motion", min_length=1, description="label given to every blob")


class MotionDetector:
    """Connected components of the opened and dilated foreground mask.

    Motion has no confidence: every blob of at least ``min_area`` scores 1.0. Boxes are as
    precise as the mask (``resolution`` pixels across), which the pipeline also uses as the
    gate's work width for cameras with this detector.
    """

    model = "motion"

    def __init__(self, options: MotionOptions) -> None:
        self.options = options
        self._kernel = np.ones((3, 3), np.uint8)

    def detect(self, frame: Frame, motion: MotionResult) -> list[Detection]:
        """Blobs of the gate's mask for this frame."""
        if not motion.mask.any():
            return []
        mask = cv2.morphologyEx(motion.mask.astype(np.uint8), cv2.MORPH_OPEN, self._kernel)
        if self.options.dilate:
            mask = cv2.dilate(mask, self._kernel, iterations=self.options.dilate)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        h, w = mask.shape
        # Undo the dilation's growth of each side so boxes keep the object's size.
        grow = self.options.dilate
        out: list[Detection] = []
        for i in range(1, count):
            x, y, bw, bh, _ = (int(v) for v in stats[i])
            box = clip_box((x + grow) / w, (y + grow) / h, (x + bw - grow) / w, (y + bh - grow) / h)
            if box is not None and box.area >= self.options.min_area:
                out.append(Detection(self.options.label, 1.0, box))
        return out

    def close(self) -> None:
        """Nothing to release."""


PLUGIN = DetectorPlugin("motion", MotionOptions, lambda options, _pool: MotionDetector(options))
