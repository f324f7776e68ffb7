"""Compiled geometry: point-in-polygon (convex and concave), boundary distance, sides, IoU."""

from __future__ import annotations

import math

import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point as SPoint
from shapely.geometry import Polygon as SPolygon

from stream_processors.rules.geometry import (
    Polygon,
    Segment,
    crossing_edges,
    iou,
    is_simple_ring,
    segments_intersect,
    signed_area,
)

SQUARE = ((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8))
# A "U": the notch between x 0.4..0.6 above y 0.5 is outside.
U_SHAPE = (
    (0.2, 0.2),
    (0.4, 0.2),
    (0.4, 0.5),
    (0.6, 0.5),
    (0.6, 0.2),
    (0.8, 0.2),
    (0.8, 0.8),
    (0.2, 0.8),
)
unit = st.floats(0.0, 1.0, allow_nan=False)


def star(n: int, inner: float, outer: float, rot: float) -> tuple[tuple[float, float], ...]:
    """A star polygon (concave for inner < outer) centred on (0.5, 0.5)."""
    pts = []
    for i in range(2 * n):
        r = outer if i % 2 == 0 else inner
        a = rot + math.pi * i / n
        pts.append((0.5 + r * math.cos(a), 0.5 + r * math.sin(a)))
    return tuple(pts)


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [
        (0.5, 0.5, True),
        (0.1, 0.5, False),
        (0.9, 0.5, False),
        (0.5, 0.1, False),
        (0.5, 0.9, False),
        (0.21, 0.79, True),
        (0.79, 0.21, True),
        (-1.0, -1.0, False),
        (2.0, 0.5, False),
    ],
)
def test_square_contains(x: float, y: float, inside: bool) -> None:
    assert Polygon.from_coords(SQUARE).contains(x, y) is inside


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [
        (0.5, 0.3, False),
        (0.5, 0.45, False),
        (0.5, 0.6, True),
        (0.3, 0.3, True),
        (0.7, 0.3, True),
        (0.5, 0.79, True),
        (0.41, 0.49, False),
        (0.39, 0.49, True),
    ],
)
def test_concave_u_shape_notch_is_outside(x: float, y: float, inside: bool) -> None:
    assert Polygon.from_coords(U_SHAPE).contains(x, y) is inside


def test_winding_order_does_not_matter() -> None:
    cw = Polygon.from_coords(tuple(reversed(U_SHAPE)))
    ccw = Polygon.from_coords(U_SHAPE)
    for x, y in [(0.5, 0.3), (0.5, 0.6), (0.3, 0.3), (0.1, 0.1)]:
        assert cw.contains(x, y) == ccw.contains(x, y)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(3, 9),
    inner=st.floats(0.05, 0.3),
    rot=st.floats(0.0, 6.28),
    x=unit,
    y=unit,
)
def test_contains_agrees_with_shapely_on_concave_stars(
    n: int, inner: float, rot: float, x: float, y: float
) -> None:
    coords = star(n, inner, 0.45, rot)
    shp = SPolygon(coords)
    # Points within a hair of the boundary may go either way (and never matter: hysteresis).
    assume(shp.exterior.distance(SPoint(x, y)) > 1e-9)
    assert Polygon.from_coords(coords).contains(x, y) == shapely.contains_xy(shp, x, y)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 9), inner=st.floats(0.05, 0.3), rot=st.floats(0.0, 6.28), x=unit, y=unit)
def test_boundary_distance_agrees_with_shapely(
    n: int, inner: float, rot: float, x: float, y: float
) -> None:
    coords = star(n, inner, 0.45, rot)
    expected = SPolygon(coords).exterior.distance(SPoint(x, y))
    assert Polygon.from_coords(coords).boundary_distance(x, y) == pytest.approx(expected, abs=1e-12)


def test_boundary_distance_of_points_on_edges_and_vertices_is_zero() -> None:
    poly = Polygon.from_coords(SQUARE)
    assert poly.boundary_distance(0.5, 0.2) == pytest.approx(0.0)
    assert poly.boundary_distance(0.2, 0.2) == pytest.approx(0.0)
    assert poly.boundary_distance(0.5, 0.5) == pytest.approx(0.3)
    assert poly.boundary_distance(0.0, 0.0) == pytest.approx(math.hypot(0.2, 0.2))


def test_polygon_area_and_bounds() -> None:
    poly = Polygon.from_coords(U_SHAPE)
    assert poly.area == pytest.approx(0.36 - 0.2 * 0.3)
    assert (poly.min_x, poly.min_y, poly.max_x, poly.max_y) == (0.2, 0.2, 0.8, 0.8)


def test_design_side_convention_left_of_vertical_line_is_a() -> None:
    seg = Segment.from_coords(((0.5, 0.0), (0.5, 1.0)))
    assert seg.signed_distance(0.2, 0.5) > 0  # side a: left half
    assert seg.signed_distance(0.8, 0.5) < 0
    assert seg.signed_distance(0.5, 0.3) == 0.0


def test_reversing_the_segment_swaps_sides() -> None:
    a = Segment.from_coords(((0.5, 0.0), (0.5, 1.0)))
    b = Segment.from_coords(((0.5, 1.0), (0.5, 0.0)))
    assert a.signed_distance(0.2, 0.4) == pytest.approx(-b.signed_distance(0.2, 0.4))


@given(x0=unit, y0=unit, x1=unit, y1=unit, px=unit, py=unit)
def test_signed_distance_is_the_euclidean_distance_to_the_line(
    x0: float, y0: float, x1: float, y1: float, px: float, py: float
) -> None:
    assume(math.hypot(x1 - x0, y1 - y0) > 1e-3)
    seg = Segment.from_coords(((x0, y0), (x1, y1)))
    d = seg.signed_distance(px, py)
    # Distance to the infinite line: project onto it and compare with |d|.
    dx, dy = x1 - x0, y1 - y0
    t = ((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy)
    expected = math.hypot(px - (x0 + t * dx), py - (y0 + t * dy))
    assert abs(d) == pytest.approx(expected, abs=1e-9)
    cross = dx * (py - y0) - dy * (px - x0)
    assert (d > 0) == (cross > 0)


@pytest.mark.parametrize(
    ("q", "p", "within"),
    [
        ((0.3, 0.5), (0.7, 0.5), True),  # straight through the middle
        ((0.3, 0.0), (0.7, 0.0), True),  # through the end point P0
        ((0.3, 1.0), (0.7, 1.0), True),  # through the end point P1
        ((0.3, -0.1), (0.7, -0.1), False),  # beyond P0
        ((0.3, 1.2), (0.7, 1.2), False),  # beyond P1
        ((0.3, 0.9), (0.7, 1.3), False),  # diagonal: meets the line at y = 1.1, past P1
        ((0.3, 1.3), (0.7, 0.7), True),  # diagonal from beyond P1: meets it at y = 1.0
    ],
)
def test_crossed_within_the_extent(
    q: tuple[float, float], p: tuple[float, float], within: bool
) -> None:
    seg = Segment.from_coords(((0.5, 0.0), (0.5, 1.0)))
    dq = seg.signed_distance(*q)
    dp = seg.signed_distance(*p)
    assert seg.crossed_within([1.0, q[0], q[1], dq], p[0], p[1], dp) is within


@given(
    qy=st.floats(-0.5, 1.5),
    py=st.floats(-0.5, 1.5),
    qx=st.floats(0.0, 0.49),
    px=st.floats(0.51, 1.0),
)
def test_crossed_within_matches_segment_intersection(
    qy: float, py: float, qx: float, px: float
) -> None:
    seg = Segment.from_coords(((0.5, 0.0), (0.5, 1.0)))
    dq, dp = seg.signed_distance(qx, qy), seg.signed_distance(px, py)
    meets = shapely.LineString([(qx, qy), (px, py)]).intersects(
        shapely.LineString([(0.5, 0.0), (0.5, 1.0)])
    )
    meet_y = qy + (py - qy) * dq / (dq - dp)
    assume(abs(meet_y) > 1e-9 and abs(meet_y - 1.0) > 1e-9)
    assert seg.crossed_within([1.0, qx, qy, dq], px, py, dp) == meets


def test_iou_basics() -> None:
    assert iou(0, 0, 1, 1, 0, 0, 1, 1) == 1.0
    assert iou(0, 0, 1, 1, 2, 2, 3, 3) == 0.0
    assert iou(0, 0, 1, 1, 1, 0, 2, 1) == 0.0  # touching edges
    assert iou(0, 0, 2, 1, 1, 0, 3, 1) == pytest.approx(1 / 3)
    assert iou(0, 0, 0, 0, 0, 0, 0, 0) == 0.0  # empty boxes


boxes = st.tuples(unit, unit, unit, unit).map(
    lambda b: (min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]))
)


@given(a=boxes, b=boxes)
def test_iou_is_symmetric_bounded_and_matches_shapely(
    a: tuple[float, ...], b: tuple[float, ...]
) -> None:
    v = iou(*a, *b)
    assert v == pytest.approx(iou(*b, *a))
    assert 0.0 <= v <= 1.0 + 1e-12
    sa, sb = shapely.box(*a), shapely.box(*b)
    union = sa.union(sb).area
    if union > 1e-9:
        assert v == pytest.approx(sa.intersection(sb).area / union, abs=1e-9)


def test_signed_area_orientation() -> None:
    assert signed_area(SQUARE) == pytest.approx(0.36)
    assert signed_area(tuple(reversed(SQUARE))) == pytest.approx(-0.36)


def test_self_intersection_finds_a_bow_tie() -> None:
    bow_tie = ((0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9))
    assert not is_simple_ring(bow_tie)
    assert crossing_edges(bow_tie) == (0, 2)
    for simple in (SQUARE, U_SHAPE):
        assert is_simple_ring(simple)
        assert crossing_edges(simple) is None


def test_self_intersection_catches_a_vertex_touching_an_edge() -> None:
    # Vertex 3 lies on edge 0-1: not a simple polygon.
    touching = ((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.5, 0.1), (0.1, 0.9))
    assert not is_simple_ring(touching)
    assert crossing_edges(touching) is not None


def test_a_ring_doubling_back_on_itself_is_not_simple() -> None:
    # Edges 0 (0.1 -> 0.9) and 1 (0.9 -> 0.5) overlap along y = 0.1: a spike.
    spike = ((0.1, 0.1), (0.9, 0.1), (0.5, 0.1), (0.5, 0.9))
    assert not is_simple_ring(spike)
    assert crossing_edges(spike) == (0, 1)


@pytest.mark.parametrize(
    ("p1", "p2", "q1", "q2", "expected"),
    [
        ((0, 0), (1, 1), (0, 1), (1, 0), True),
        ((0, 0), (1, 0), (0, 1), (1, 1), False),
        ((0, 0), (1, 0), (1, 0), (2, 0), True),
        ((0, 0), (1, 0), (2, 0), (3, 0), False),
        ((0, 0), (2, 0), (1, 0), (1, 1), True),
    ],
)
def test_segments_intersect(
    p1: tuple[float, float],
    p2: tuple[float, float],
    q1: tuple[float, float],
    q2: tuple[float, float],
    expected: bool,
) -> None:
    assert segments_intersect(p1, p2, q1, q2) is expected
