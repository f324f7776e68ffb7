"""Precomputed sensor geometry in normalised image coordinates (x right, y down, 0..1).

The detections path tests every object anchor against every polygon and tripwire of its
camera, so the shapes are compiled once per sensor definition into plain float tuples and
tested with hand-written loops: for the small polygons users draw that is several times
faster than shapely's prepared geometry, which pays a C call and a Point allocation per test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely

from schemas.records import Point

Coords = tuple[tuple[float, float], ...]
"""Vertices as plain ``(x, y)`` float pairs."""


def as_coords(points: Sequence[Point]) -> Coords:
    """The points of a sensor definition as plain float pairs."""
    return tuple((float(p.x), float(p.y)) for p in points)


@dataclass(frozen=True, slots=True)
class Polygon:
    """A simple (possibly concave) polygon compiled for point-in-polygon tests."""

    coords: Coords
    min_x: float
    min_y: float
    max_x: float
    max_y: float
    # Per non-horizontal edge: (y_i, y_j, x_i, dx/dy), what the ray cast needs.
    crossings: tuple[tuple[float, float, float, float], ...]
    # Per edge: (x_i, y_i, dx, dy, 1 / length^2), for the distance to the boundary.
    edges: tuple[tuple[float, float, float, float, float], ...]

    @classmethod
    def from_coords(cls, coords: Coords) -> Polygon:
        """Compile a polygon; the caller has validated it (>= 3 vertices, simple, non-zero area)."""
        xs = [x for x, _ in coords]
        ys = [y for _, y in coords]
        crossings = []
        edges = []
        n = len(coords)
        for i in range(n):
            xi, yi = coords[i]
            xj, yj = coords[(i + 1) % n]
            dx, dy = xj - xi, yj - yi
            if dy != 0.0:
                crossings.append((yi, yj, xi, dx / dy))
            len2 = dx * dx + dy * dy
            edges.append((xi, yi, dx, dy, 1.0 / len2 if len2 > 0.0 else 0.0))
        return cls(coords, min(xs), min(ys), max(xs), max(ys), tuple(crossings), tuple(edges))

    def contains(self, x: float, y: float) -> bool:
        """Whether the point is inside (even-odd ray cast; points on the boundary go either way)."""
        if x < self.min_x or x > self.max_x or y < self.min_y or y > self.max_y:
            return False
        inside = False
        for yi, yj, xi, k in self.crossings:
            if (yi > y) != (yj > y) and x < xi + (y - yi) * k:
                inside = not inside
        return inside

    def boundary_distance(self, x: float, y: float) -> float:
        """Euclidean distance from the point to the nearest edge."""
        best = math.inf
        for xi, yi, dx, dy, inv_len2 in self.edges:
            t = ((x - xi) * dx + (y - yi) * dy) * inv_len2
            if t < 0.0:
                t = 0.0
            elif t > 1.0:
                t = 1.0
            ex = xi + t * dx - x
            ey = yi + t * dy - y
            d2 = ex * ex + ey * ey
            best = min(best, d2)
        return math.sqrt(best)

    @property
    def area(self) -> float:
        """Area (shoelace formula)."""
        return abs(signed_area(self.coords))


@dataclass(frozen=True, slots=True)
class Segment:
    """A tripwire P0 -> P1 compiled for side and crossing tests.

    Side ``a`` is where cross(P1 - P0, p - P0) > 0 (DESIGN.md): a positive signed distance.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    dx: float
    dy: float
    inv_len: float
    inv_len2: float

    @classmethod
    def from_coords(cls, coords: Coords) -> Segment:
        """Compile a segment from its two end points (validated distinct by the caller)."""
        (x0, y0), (x1, y1) = coords
        dx, dy = x1 - x0, y1 - y0
        len2 = dx * dx + dy * dy
        return cls(x0, y0, x1, y1, dx, dy, 1.0 / math.sqrt(len2), 1.0 / len2)

    def signed_distance(self, x: float, y: float) -> float:
        """Distance to the infinite line through the segment; > 0 on side a, < 0 on side b."""
        return (self.dx * (y - self.y0) - self.dy * (x - self.x0)) * self.inv_len

    def crossed_within(self, q: list[float], px: float, py: float, dp: float) -> bool:
        """Whether the move q -> p meets the line within the segment's extent (end points count).

        ``q`` is ``[side, x, y, signed distance]`` (a tripwire's per-track state) and ``dp``
        the signed distance of p; the two distances have opposite signs.
        """
        _, qx, qy, dq = q
        u = dq / (dq - dp)
        cx = qx + u * (px - qx)
        cy = qy + u * (py - qy)
        t = ((cx - self.x0) * self.dx + (cy - self.y0) * self.dy) * self.inv_len2
        return 0.0 <= t <= 1.0


def signed_area(coords: Coords) -> float:
    """Shoelace signed area (positive for counter-clockwise in x-right/y-up axes)."""
    n = len(coords)
    total = 0.0
    for i in range(n):
        x0, y0 = coords[i]
        x1, y1 = coords[(i + 1) % n]
        total += x0 * y1 - x1 * y0
    return total / 2.0


def _orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def segments_intersect(
    p1: tuple[float, float],
    p2: tuple[float, float],
    q1: tuple[float, float],
    q2: tuple[float, float],
) -> bool:
    """Whether the closed segments p1-p2 and q1-q2 share a point."""
    d1 = _orient(q1, q2, p1)
    d2 = _orient(q1, q2, p2)
    d3 = _orient(p1, p2, q1)
    d4 = _orient(p1, p2, q2)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def _spike(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    """Whether edges a-b and b-c overlap beyond their shared vertex b (the ring doubles back)."""
    return (
        _orient(a, b, c) == 0 and (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1]) > 0
    )


def edges_meet(coords: Coords, i: int, j: int) -> bool:
    """Whether edges i < j of the closed ring meet anywhere but at a vertex they share."""
    n = len(coords)
    if j == i + 1:
        return _spike(coords[i], coords[j], coords[(j + 1) % n])
    if i == 0 and j == n - 1:
        return _spike(coords[j], coords[0], coords[1])
    return segments_intersect(coords[i], coords[i + 1], coords[j], coords[(j + 1) % n])


def is_simple_ring(coords: Coords) -> bool:
    """Whether the closed ring through ``coords`` neither crosses nor touches itself.

    GEOS decides it (shapely is a pure geometry library, no I/O): monotone-chain noding over a
    spatial index, O(n log n), with robust predicates. A sensor record is validated on every
    worker that reads the sensors topic, so the cost must not grow with the square of what
    a writer chose to send.
    """
    return bool(shapely.is_simple(shapely.linearrings(coords)))


def crossing_edges(coords: Coords) -> tuple[int, int] | None:
    """The first pair of edges (by index) that meet, for the error message; None if none does.

    Only edges whose bounding boxes overlap (an STRtree query) are tested exactly, so a
    non-simple polygon costs O(n log n + k) for k overlapping boxes, not O(n^2).
    """
    n = len(coords)
    if n < 3:
        return None
    ends = [(coords[i], coords[(i + 1) % n]) for i in range(n)]
    segments = shapely.linestrings(ends)
    left, right = shapely.STRtree(segments).query(segments)
    pairs = sorted((int(i), int(j)) for i, j in zip(left, right, strict=True) if i < j)
    return next(((i, j) for i, j in pairs if edges_meet(coords, i, j)), None)


def iou(  # noqa: PLR0917 - hot path: eight positional floats, no tuple built per call
    ax1: float,
    ay1: float,
    ax2: float,
    ay2: float,
    bx1: float,
    by1: float,
    bx2: float,
    by2: float,
) -> float:
    """Intersection over union of two corner boxes (0 when either is empty)."""
    # Conditional expressions rather than min()/max(): no builtin calls on the hot path.
    iw = (ax2 if ax2 < bx2 else bx2) - (ax1 if ax1 > bx1 else bx1)
    if iw <= 0.0:
        return 0.0
    ih = (ay2 if ay2 < by2 else by2) - (ay1 if ay1 > by1 else by1)
    if ih <= 0.0:
        return 0.0
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0.0 else 0.0
