"""The frame that flows from a source through the pipeline, with lazily materialised pixels.

Decoding is the expensive part of the edge, and most decoded frames are never analysed: a
frame therefore holds loaders, not pixels. The motion gate reads only the luma plane (free
for YUV video), and the BGR image is converted only for frames the detector or the evidence
encoder actually use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from producers.synthetic.scene import TruthBox

Image = npt.NDArray[np.uint8]
"""An 8-bit image: HxW (luma) or HxWx3 (BGR)."""


def luma_of_bgr(bgr: Image) -> Image:
    """ITU-R BT.601 luma of a BGR image, in integer arithmetic."""
    b = bgr[..., 0].astype(np.uint16)
    g = bgr[..., 1].astype(np.uint16)
    r = bgr[..., 2].astype(np.uint16)
    return ((29 * b + 150 * g + 77 * r + 128) >> 8).astype(np.uint8)


class Frame:
    """One decoded frame of one camera.

    ``ts_us`` is the event time (UTC microseconds); ``pts_s`` the source's presentation time in
    seconds, monotonic within one connection, which the sampler schedules on. ``truth`` holds
    the ground-truth boxes of a synthetic scene and is None for real sources.
    """

    __slots__ = (
        "_bgr",
        "_bgr_fn",
        "_luma",
        "_luma_fn",
        "height",
        "keyframe",
        "pts_s",
        "truth",
        "ts_us",
        "width",
    )

    def __init__(
        self,
        *,
        ts_us: int,
        pts_s: float,
        width: int,
        height: int,
        keyframe: bool = False,
        bgr: Image | Callable[[], Image] | None = None,
        luma: Image | Callable[[], Image] | None = None,
        truth: tuple[TruthBox, ...] | None = None,
    ) -> None:
        if bgr is None and luma is None:
            raise ValueError("a frame needs a BGR image or a luma plane (or loaders)")
        self.ts_us = ts_us
        self.pts_s = pts_s
        self.width = width
        self.height = height
        self.keyframe = keyframe
        self.truth = truth
        self._bgr: Image | None = bgr if isinstance(bgr, np.ndarray) else None
        self._bgr_fn: Callable[[], Image] | None = None if isinstance(bgr, np.ndarray) else bgr
        self._luma: Image | None = luma if isinstance(luma, np.ndarray) else None
        self._luma_fn: Callable[[], Image] | None = None if isinstance(luma, np.ndarray) else luma

    def bgr(self) -> Image:
        """The HxWx3 BGR image (converted on first use, then cached)."""
        if self._bgr is None:
            if self._bgr_fn is None:
                raise ValueError("this frame carries only a luma plane")
            self._bgr = self._bgr_fn()
            self._bgr_fn = None
        return self._bgr

    def luma(self) -> Image:
        """The HxW luma (grey) plane; may be a strided view, never written to."""
        if self._luma is None:
            self._luma = self._luma_fn() if self._luma_fn is not None else luma_of_bgr(self.bgr())
            self._luma_fn = None
        return self._luma
