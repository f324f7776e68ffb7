"""Occupancy heatmaps: the cell of a box, the grid of an hour, and its picture.

A box counts in the cell of its bottom-centre (where an object stands):
``gx = min(63, floor((x1 + x2) / 2 * 64))``, ``gy = min(35, floor(y2 * 36))``; ``etl.analytics.sql``
computes the same cells in ClickHouse. The picture is an RGB array (numpy only); the asset
encodes it as PNG.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import numpy.typing as npt

from etl.analytics.sql import GRID_H, GRID_W

Image = npt.NDArray[np.uint8]


def cell_of(x1: float, x2: float, y2: float) -> tuple[int, int]:
    """(gx, gy) of a normalised box's bottom-centre, clamped to the grid."""
    gx = min(GRID_W - 1, max(0, math.floor((x1 + x2) / 2 * GRID_W)))
    gy = min(GRID_H - 1, max(0, math.floor(y2 * GRID_H)))
    return gx, gy


def cells(boxes: Iterable[tuple[float, float, float, float]]) -> Counter[tuple[int, int]]:
    """Detections per cell of (x1, y1, x2, y2) boxes."""
    return Counter(cell_of(x1, x2, y2) for x1, _y1, x2, y2 in boxes)


def grid(counts: Iterable[tuple[int, int, int]]) -> npt.NDArray[np.float64]:
    """A GRID_H x GRID_W array of detections from (gx, gy, detections) rows."""
    out = np.zeros((GRID_H, GRID_W), dtype=np.float64)
    for gx, gy, n in counts:
        out[gy, gx] += n
    return out


def _colormap(t: npt.NDArray[np.float64]) -> Image:
    """Blue -> cyan -> yellow -> red for t in 0..1 (a readable 'hot' ramp without matplotlib)."""
    stops = np.array([[0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0]], dtype=np.float64)
    pos = np.clip(t, 0.0, 1.0) * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[..., None]
    rgb = stops[lo] * (1 - frac) + stops[lo + 1] * frac
    out: Image = rgb.round().astype(np.uint8)
    return out


def render(
    g: npt.NDArray[np.float64], background: Image | None = None, *, width: int = 640
) -> Image:
    """An RGB picture of a grid: cells coloured by sqrt-scaled counts, empty cells clear.

    Over ``background`` (an RGB frame of any size, resized by nearest pixel) the cells are
    blended at 60 % so the scene stays visible; without it they lie on dark grey.
    """
    height = width * GRID_H // GRID_W
    peak = float(g.max()) if g.size else 0.0
    t = np.sqrt(g / peak) if peak > 0 else np.zeros_like(g)
    ys = np.arange(height) * GRID_H // height
    xs = np.arange(width) * GRID_W // width
    big_t = t[ys][:, xs]
    colour = _colormap(big_t).astype(np.float64)
    if background is None:
        base = np.full((height, width, 3), 40, dtype=np.float64)
    else:
        by = np.arange(height) * background.shape[0] // height
        bx = np.arange(width) * background.shape[1] // width
        base = background[by][:, bx, :3].astype(np.float64)
    alpha = np.where(big_t > 0, 0.6, 0.0)[..., None]
    out: Image = (base * (1 - alpha) + colour * alpha).round().astype(np.uint8)
    return out


def png_key(camera_id: str, hour: datetime | None, day: datetime | None = None) -> str:
    """S3 key of an hour's picture, or of a day's (``day.png``) when ``hour`` is None."""
    when = hour or day
    if when is None:
        raise ValueError("an hour or a day is needed")
    name = f"{when:%H}.png" if hour is not None else "day.png"
    return f"reports/heatmaps/{camera_id}/{when:%Y/%m/%d}/{name}"
