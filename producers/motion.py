"""The motion gate: cheap background subtraction on a downscaled luma plane.

Pure numpy. The gate decides whether the detector runs at all, so it must cost a small
fraction of decoding: it subsamples the luma plane to about ``work_width`` pixels wide by
striding (no filtering, no copy of the full frame), keeps a running-average background, and
scores the fraction of pixels that differ by more than ``threshold`` grey levels.

The background is updated selectively: pixels seen as foreground adapt ``fg_alpha_ratio``
times slower, so an object that stops is absorbed only gradually and a moving object does
not smear into the background and leave a ghost trail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from producers.frames import Image

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class MotionConfig:
    """Tuning of the motion gate."""

    work_width: int = 160
    threshold: int = 20
    alpha: float = 0.05
    fg_alpha_ratio: float = 0.1
    min_area: float = 0.0005
    hold_frames: int = 2

    def __post_init__(self) -> None:
        if self.work_width < 16:
            raise ValueError(f"work_width must be >= 16, got {self.work_width}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if not 0 <= self.min_area <= 1:
            raise ValueError(f"min_area must be in [0, 1], got {self.min_area}")


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What the gate saw on one frame.

    ``score`` is the changed fraction of the frame (0..1); ``moving`` whether the detector
    should run (score >= min_area, or within ``hold_frames`` after such a frame); ``mask`` the
    foreground mask at work resolution (True = changed), which the motion detector turns into
    boxes.
    """

    score: float
    moving: bool
    mask: Mask


def subsample_step(width: int, work_width: int) -> int:
    """Integer stride that brings ``width`` down to about ``work_width`` (at least 1)."""
    return max(1, width // work_width)


class MotionGate:
    """Stateful gate of one camera; feed it every sampled frame's luma plane in order."""

    __slots__ = ("_bg", "_quiet", "config")

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._bg: npt.NDArray[np.float32] | None = None
        self._quiet = self.config.hold_frames + 1

    def reset(self) -> None:
        """Forget the background (after a reconnect or a scene cut)."""
        self._bg = None
        self._quiet = self.config.hold_frames + 1

    def update(self, luma: Image) -> MotionResult:
        """Score one frame and learn it into the background."""
        cfg = self.config
        step = subsample_step(luma.shape[1], cfg.work_width)
        small = luma[::step, ::step].astype(np.float32)
        bg = self._bg
        if bg is None or bg.shape != small.shape:
            self._bg = small
            self._quiet = cfg.hold_frames + 1
            return MotionResult(0.0, False, np.zeros(small.shape, dtype=np.bool_))
        diff = np.abs(small - bg)
        mask = diff > cfg.threshold
        score = float(np.count_nonzero(mask)) / mask.size
        # Selective running average: background pixels adapt at alpha, foreground slower.
        rate = np.where(mask, cfg.alpha * cfg.fg_alpha_ratio, cfg.alpha).astype(np.float32)
        bg += rate * (small - bg)
        if score >= cfg.min_area and score > 0.0:
            self._quiet = 0
        else:
            self._quiet += 1
        return MotionResult(score, self._quiet <= cfg.hold_frames, mask)
