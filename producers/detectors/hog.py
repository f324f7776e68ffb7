"""The ``hog`` detector: OpenCV's HOG + linear SVM people detector (no model file needed)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from producers.detectors.base import Detection, DetectorPlugin, clip_box
from producers.detectors.yolo import nms
from producers.frames import Frame
from producers.motion import MotionResult


class HogOptions(BaseModel):
    """Options of the HOG people detector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scale_width: int = Field(
        640, ge=64, le=3840, description="frames wider than this are downscaled first, pixels"
    )
    win_stride: int = Field(8, ge=4, le=32, description="detection window step, pixels")
    scale: float = Field(1.05, gt=1.0, le=2.0, description="image pyramid scale step")
    min_score: float = Field(0.5, ge=0, le=1, description="lowest score kept (0.5 = SVM margin 0)")
    iou: float = Field(0.45, gt=0, le=1, description="NMS IoU threshold")


class HogDetector:
    """People by HOG features; the score is the logistic of the SVM margin."""

    model = "hog"

    def __init__(self, options: HogOptions) -> None:
        self.options = options
        self._hog = cv2.HOGDescriptor()
        people = np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32)
        self._hog.setSVMDetector(people)

    def detect(self, frame: Frame, motion: MotionResult) -> list[Detection]:
        """People on the frame."""
        img: npt.NDArray[np.uint8] = frame.bgr()
        h, w = img.shape[:2]
        factor = min(1.0, self.options.scale_width / w)
        if factor < 1.0:
            size = (round(w * factor), round(h * factor))
            img = np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        ih, iw = img.shape[:2]
        stride = (self.options.win_stride, self.options.win_stride)
        rects, weights = self._hog.detectMultiScale(
            img, winStride=stride, padding=(8, 8), scale=self.options.scale
        )
        if len(rects) == 0:
            return []
        boxes = np.array([(x, y, x + bw, y + bh) for x, y, bw, bh in rects], dtype=np.float64)
        scores = np.array([1.0 / (1.0 + math.exp(-float(s))) for s in np.ravel(weights)])
        out: list[Detection] = []
        for i in nms(boxes, scores, self.options.iou):
            if scores[i] < self.options.min_score:
                continue
            x1, y1, x2, y2 = boxes[i]
            box = clip_box(x1 / iw, y1 / ih, x2 / iw, y2 / ih)
            if box is not None:
                out.append(Detection("person", float(scores[i]), box))
        return out

    def close(self) -> None:
        """Nothing to release."""


PLUGIN = DetectorPlugin("hog", HogOptions, lambda options, _pool: HogDetector(options))
