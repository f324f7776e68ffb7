"""Checks of sensor geometry that kinds share: points in the frame, segments, polygons."""

from __future__ import annotations

import math

from schemas.records import SensorConfig
from stream_processors.rules.base import Fail
from stream_processors.rules.geometry import (
    Coords,
    as_coords,
    crossing_edges,
    is_simple_ring,
    signed_area,
)

MAX_POLYGON_POINTS = 256
"""Vertices of a zone/loitering/aoi polygon: far more than anyone draws by hand."""
MIN_POLYGON_AREA = 1e-6
"""Smallest polygon area accepted (a millionth of the frame: about 2 pixels at 1080p)."""


def frame_coords(cfg: SensorConfig, fail: Fail) -> Coords:
    """The points as coordinates, each checked to lie in the normalised frame."""
    if len(cfg.points) > MAX_POLYGON_POINTS:
        raise fail("points", f"{len(cfg.points)} points is over the cap of {MAX_POLYGON_POINTS}")
    coords = as_coords(cfg.points)
    for i, (x, y) in enumerate(coords):
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise fail("points", f"point {i} ({x}, {y}) is outside the normalised frame 0..1")
    return coords


def check_segments(cfg: SensorConfig, fail: Fail, count: int, what: str) -> None:
    """``count`` segments of two points each (P0, P1 of segment 1, then of segment 2, ...)."""
    coords = frame_coords(cfg, fail)
    if len(coords) != 2 * count:
        raise fail("points", f"{what} needs exactly {2 * count} points, got {len(coords)}")
    for i in range(0, len(coords), 2):
        if coords[i] == coords[i + 1]:
            which = "the two tripwire points" if count == 1 else f"the points of line {i // 2 + 1}"
            raise fail("points", f"{which} are the same point")


def check_polygon(cfg: SensorConfig, fail: Fail) -> None:
    """A simple polygon of at least 3 distinct points with some area."""
    coords = frame_coords(cfg, fail)
    if len(coords) < 3:
        raise fail(
            "points", f"a {cfg.kind.value} polygon needs at least 3 points, got {len(coords)}"
        )
    for i in range(len(coords)):
        if coords[i] == coords[(i + 1) % len(coords)]:
            raise fail("points", f"points {i} and {(i + 1) % len(coords)} are the same point")
    if not is_simple_ring(coords):
        if _collinear(coords):
            raise fail("points", "the polygon has (almost) no area (its points are on one line)")
        crossing = crossing_edges(coords)
        where = "" if crossing is None else f" (edges {crossing[0]} and {crossing[1]} intersect)"
        raise fail("points", f"the polygon crosses itself{where}")
    if abs(signed_area(coords)) < MIN_POLYGON_AREA:
        raise fail("points", "the polygon has (almost) no area")


def check_positive(fail: Fail, field: str, value: float | None, unit: str) -> None:
    """A set value is a positive finite number (of ``unit``)."""
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise fail(field, f"must be a positive number of {unit}, got {value}")


def _collinear(coords: Coords) -> bool:
    (x0, y0), (x1, y1) = coords[0], coords[1]
    return all((x1 - x0) * (y - y0) == (y1 - y0) * (x - x0) for x, y in coords[2:])
