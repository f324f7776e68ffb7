"""Bounded sensor input: size caps, whole-match ids, and a self-intersection check that is
O(n log n) and agrees with the plain pairwise test."""

from __future__ import annotations

import math
import random
import re
import time
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sp_helpers import tripwire, zone

from stream_processors.config import MAX_FILE_BYTES, parse_sensors, parse_sensors_yaml
from stream_processors.errors import SensorConfigError
from stream_processors.rules.geometry import (
    Coords,
    crossing_edges,
    edges_meet,
    is_simple_ring,
    segments_intersect,
)
from stream_processors.rules.validate import (
    MAX_POLYGON_POINTS,
    MAX_RECORD_BYTES,
    check_record_size,
    check_sensor,
)


def ring(n: int, seed: int = 0) -> Coords:
    """A random simple polygon of n vertices: a star-shaped ring around the centre."""
    rnd = random.Random(seed)
    angles = sorted(rnd.uniform(0, 2 * math.pi) for _ in range(n))
    radii = [rnd.uniform(0.2, 0.45) for _ in range(n)]
    return tuple(
        (0.5 + r * math.cos(a), 0.5 + r * math.sin(a)) for a, r in zip(angles, radii, strict=True)
    )


def naive_crossing(coords: Coords) -> tuple[int, int] | None:
    """The O(n^2) reference: every pair of edges, adjacent ones meeting only at their vertex."""
    n = len(coords)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1:
                a, b, c = coords[i], coords[j], coords[(j + 1) % n]
            elif i == 0 and j == n - 1:
                a, b, c = coords[j], coords[0], coords[1]
            else:
                if segments_intersect(coords[i], coords[i + 1], coords[j], coords[(j + 1) % n]):
                    return i, j
                continue
            cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
            if cross == 0 and (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1]) > 0:
                return i, j
    return None


# Grid coordinates (multiples of 1/8) keep every orientation product exact in floating point,
# so the two checks can only disagree by a real difference, not by rounding.
grid = st.integers(0, 8).map(lambda k: k / 8)
rings = st.lists(st.tuples(grid, grid), min_size=3, max_size=9).map(tuple)


@settings(max_examples=600, deadline=None)
@given(rings)
def test_fast_check_agrees_with_the_pairwise_one(coords: Coords) -> None:
    n = len(coords)
    assume(all(coords[i] != coords[(i + 1) % n] for i in range(n)))
    expected = naive_crossing(coords)
    assert is_simple_ring(coords) is (expected is None)
    assert crossing_edges(coords) == expected


def test_edges_meet_is_the_pairwise_predicate() -> None:
    bow_tie = ((0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9))
    assert edges_meet(bow_tie, 0, 2)
    assert not edges_meet(bow_tie, 0, 1)  # adjacent, meeting only at their shared vertex


def test_a_big_random_simple_polygon_validates_quickly() -> None:
    # A pairwise scan of 2·10^4 edges takes minutes in Python; GEOS's noding takes a fraction of a
    # second, so finishing at all shows the check is not quadratic (no timing asserted).
    assert is_simple_ring(ring(20_000))
    check_sensor(zone("big", points=ring(MAX_POLYGON_POINTS, seed=7)))


def test_a_12000_point_zone_is_refused_within_a_second() -> None:
    points = ring(12_000)
    entry = {"id": "z", "camera": "cam-1", "kind": "zone", "points": [list(p) for p in points]}
    record = zone("z", points=points)
    started = time.perf_counter()
    with pytest.raises(SensorConfigError, match="12000 points is over the cap of 256"):
        check_sensor(record)  # a record from the sensors topic
    with pytest.raises(SensorConfigError, match="points: 12000 points is over the cap"):
        parse_sensors({"sensors": [entry]}, updated_ts=0)  # a parsed file
    assert time.perf_counter() - started < 1.0


def test_a_12000_point_zone_file_is_refused_naming_file_line_and_field() -> None:
    pts = ", ".join(f"[{x:.6f}, {y:.6f}]" for x, y in ring(12_000))
    text = f"sensors:\n  - id: z\n    camera: cam-1\n    kind: zone\n    points: [{pts}]\n"
    with pytest.raises(SensorConfigError) as err:
        parse_sensors_yaml(text, updated_ts=0, source="site.yaml")
    assert str(err.value) == "site.yaml:5: sensor 'z': points: 12000 points is over the cap of 256"


def test_a_file_over_the_byte_cap_is_refused_before_parsing() -> None:
    text = "# " + "x" * MAX_FILE_BYTES + "\n"
    with pytest.raises(SensorConfigError, match=r"file: \d+ bytes is over the cap"):
        parse_sensors_yaml(text, updated_ts=0, source="big.yaml")


def test_the_polygon_cap_itself_is_accepted_and_one_more_is_not() -> None:
    check_sensor(zone("z", points=ring(MAX_POLYGON_POINTS)))
    with pytest.raises(SensorConfigError, match="257 points is over the cap of 256"):
        check_sensor(zone("z", points=ring(MAX_POLYGON_POINTS + 1)))


def test_record_size_cap() -> None:
    check_record_size("s", MAX_RECORD_BYTES)
    with pytest.raises(SensorConfigError, match=f"record: {MAX_RECORD_BYTES + 1} bytes is over"):
        check_record_size("s", MAX_RECORD_BYTES + 1)


@pytest.mark.parametrize(
    "bad_id",
    ["cam1\n", "../../etc/passwd", "gate\u202e1", "a/b", "a b", "-lead", "", "x" * 65, "é"],
)
def test_sensor_and_camera_ids_are_matched_whole(bad_id: str) -> None:
    with pytest.raises(SensorConfigError, match="is not a valid id"):
        check_sensor(tripwire(bad_id))
    with pytest.raises(SensorConfigError, match=r"camera: .* is not a valid id"):
        check_sensor(tripwire("line", camera_id=bad_id))


def test_a_bidi_id_is_escaped_in_the_message() -> None:
    with pytest.raises(SensorConfigError) as err:
        check_sensor(tripwire("gate\u202e1"))
    assert "\u202e" not in str(err.value) and "\\u202e" in str(err.value)


def test_a_trailing_newline_id_in_yaml_is_refused() -> None:
    text = (
        'sensors:\n  - {id: "line\\n", camera: cam-1, kind: tripwire,'
        " points: [[0.5, 0], [0.5, 1]]}\n"
    )
    with pytest.raises(SensorConfigError, match=r"id: 'line\\n' is not a valid id"):
        parse_sensors_yaml(text, updated_ts=0, source="site.yaml")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("labels", tuple(f"l{i}" for i in range(65)), "labels: 65 labels is over the cap of 64"),
        ("labels", ("x" * 257,), "labels: 257 characters is over the cap of 256"),
        ("labels", ("per\u202eson",), "labels: 'per\\u202eson' holds control"),
        ("name", "Gate\x1b[31m", "name: 'Gate\\x1b[31m' holds control"),
    ],
)
def test_text_fields_are_capped_and_printable(field: str, value: Any, expected: str) -> None:
    with pytest.raises(SensorConfigError, match=re.escape(expected)):
        check_sensor(zone("z", **{field: value}))
