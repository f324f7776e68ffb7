"""Tripwire crossings: DESIGN.md side convention, extent, hysteresis, direction filter, counts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sp_helpers import CAM, T0, Feed, alerts, events, make_engine, obj, tripwire

from schemas.records import CrossingDirection, DirectionFilter, SensorEventKind

A_TO_B = CrossingDirection.A_TO_B
B_TO_A = CrossingDirection.B_TO_A


def crossings(feed: Feed) -> list[tuple[CrossingDirection | None, int | None]]:
    return [(e.direction, e.count) for e in events(feed.outputs, SensorEventKind.LINE_CROSS)]


def walk_x(feed: Feed, xs: list[float], y: float = 0.5, track_id: int = 1) -> None:
    feed.walk(track_id, [(x, y) for x in xs])


def test_left_to_right_on_the_design_line_is_a_to_b() -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3, 0.4, 0.6, 0.7])
    assert crossings(feed) == [(A_TO_B, 1)]


def test_right_to_left_is_b_to_a() -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.7, 0.6, 0.4, 0.3])
    assert crossings(feed) == [(B_TO_A, 1)]


def test_reversed_points_swap_the_direction() -> None:
    feed = Feed(make_engine(tripwire(points=((0.5, 1.0), (0.5, 0.0)))))
    walk_x(feed, [0.3, 0.7])
    assert crossings(feed) == [(B_TO_A, 1)]


def test_horizontal_line_side_a_is_below_for_left_to_right_points() -> None:
    # P0 (0,0.5) -> P1 (1,0.5): cross((1,0), p - P0) = y - 0.5 > 0 below the line (y down).
    feed = Feed(make_engine(tripwire(points=((0.0, 0.5), (1.0, 0.5)))))
    feed.walk(1, [(0.5, 0.8), (0.5, 0.2)])
    assert crossings(feed) == [(A_TO_B, 1)]


def test_round_trip_counts_each_direction_once() -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3, 0.7, 0.3])
    assert crossings(feed) == [(A_TO_B, 1), (B_TO_A, 1)]


def test_counts_accumulate_per_direction() -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3, 0.7, 0.3, 0.7, 0.3, 0.7])
    assert crossings(feed) == [(A_TO_B, 1), (B_TO_A, 1), (A_TO_B, 2), (B_TO_A, 2), (A_TO_B, 3)]


def test_each_track_counts() -> None:
    feed = Feed(make_engine(tripwire()))
    feed.at(0.0, obj(1, 0.3, 0.5), obj(2, 0.35, 0.6))
    feed.at(0.2, obj(1, 0.7, 0.5), obj(2, 0.65, 0.6))
    assert crossings(feed) == [(A_TO_B, 1), (A_TO_B, 2)]
    assert [e.track_id for e in events(feed.outputs)] == [1, 2]


def test_first_sighting_never_counts() -> None:
    feed = Feed(make_engine(tripwire()))
    feed.at(0.0, obj(1, 0.7, 0.5))
    assert crossings(feed) == []


@pytest.mark.parametrize("jitter", [0.001, 0.003, 0.0049])
def test_jitter_inside_the_band_never_double_counts(jitter: float) -> None:
    feed = Feed(make_engine(tripwire()))
    xs = [0.3, 0.45] + [0.5 + (jitter if i % 2 else -jitter) for i in range(20)] + [0.55, 0.7]
    walk_x(feed, xs)
    assert crossings(feed) == [(A_TO_B, 1)]


def test_jitter_after_crossing_does_not_count_again() -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3, 0.51, 0.498, 0.503, 0.497, 0.502, 0.52, 0.7])
    assert crossings(feed) == [(A_TO_B, 1)]


def test_stopping_on_the_line_then_going_back_does_not_count() -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3, 0.45, 0.5, 0.5, 0.502, 0.45, 0.3])
    assert crossings(feed) == []


def test_larger_hysteresis_option_widens_the_band() -> None:
    feed = Feed(make_engine(tripwire(), hysteresis=0.05))
    walk_x(feed, [0.3, 0.46, 0.54, 0.46, 0.54, 0.7])
    assert crossings(feed) == [(A_TO_B, 1)]


def test_point_exactly_on_the_line_is_no_side() -> None:
    feed = Feed(make_engine(tripwire(), hysteresis=0.0))
    walk_x(feed, [0.5, 0.5, 0.7])  # starts on the line: no side yet, then b
    assert crossings(feed) == []
    walk_x(feed, [0.3], track_id=1)
    assert crossings(feed) == [(B_TO_A, 1)]


def test_moving_parallel_to_the_line_never_counts() -> None:
    feed = Feed(make_engine(tripwire()))
    feed.walk(1, [(0.45, y / 10) for y in range(11)])
    feed.walk(2, [(0.5, y / 10) for y in range(11)], start=3.0)
    assert crossings(feed) == []


def test_crossing_the_line_beyond_the_segment_does_not_count() -> None:
    feed = Feed(make_engine(tripwire(points=((0.5, 0.2), (0.5, 0.6)))))
    walk_x(feed, [0.3, 0.7], y=0.8)
    walk_x(feed, [0.3, 0.7], y=0.1, track_id=2)
    assert crossings(feed) == []


def test_going_round_an_end_point_does_not_count() -> None:
    feed = Feed(make_engine(tripwire(points=((0.5, 0.2), (0.5, 0.6)))))
    # Left of the wire, down past its end, across below it, back up on the right.
    feed.walk(1, [(0.4, 0.4), (0.4, 0.7), (0.6, 0.7), (0.6, 0.4)])
    assert crossings(feed) == []


def test_leaving_through_the_end_point_counts() -> None:
    feed = Feed(make_engine(tripwire(points=((0.5, 0.2), (0.5, 0.6)))))
    feed.walk(1, [(0.4, 0.6), (0.6, 0.6)])  # exactly through P1
    assert crossings(feed) == [(A_TO_B, 1)]


def test_diagonal_move_meeting_the_line_within_the_extent_counts() -> None:
    feed = Feed(make_engine(tripwire(points=((0.5, 0.2), (0.5, 0.6)))))
    feed.walk(1, [(0.3, 0.9), (0.7, 0.1)])  # meets x=0.5 at y=0.5
    assert crossings(feed) == [(A_TO_B, 1)]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (DirectionFilter.BOTH, [(A_TO_B, 1), (B_TO_A, 1)]),
        (DirectionFilter.A_TO_B, [(A_TO_B, 1)]),
        (DirectionFilter.B_TO_A, [(B_TO_A, 1)]),
    ],
)
def test_direction_filter(
    flt: DirectionFilter, expected: list[tuple[CrossingDirection, int]]
) -> None:
    feed = Feed(make_engine(tripwire(direction=flt)))
    walk_x(feed, [0.3, 0.7, 0.3])
    assert crossings(feed) == expected


def test_filtered_direction_raises_no_alert() -> None:
    feed = Feed(make_engine(tripwire(direction=DirectionFilter.A_TO_B)))
    walk_x(feed, [0.7, 0.3])
    assert feed.outputs == []


def test_crossing_raises_an_alert_with_direction() -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3, 0.7])
    (alert,) = alerts(feed.outputs)
    assert alert.direction is A_TO_B
    assert alert.kind is SensorEventKind.LINE_CROSS
    assert alert.rule.value == "tripwire"


def test_event_fields() -> None:
    feed = Feed(make_engine(tripwire()))
    feed.at(0.0, obj(7, 0.3, 0.5, label="car", score=0.8))
    feed.at(1.5, obj(7, 0.7, 0.6, label="car", score=0.85), evidence="s3://vidsight/evidence/x.jpg")
    (e,) = events(feed.outputs)
    assert (e.camera_id, e.sensor_id, e.track_id, e.label, e.score) == (CAM, "line", 7, "car", 0.85)
    assert e.ts == T0 + 1_500_000 and e.frame_seq == 2
    assert e.anchor is not None and (e.anchor.x, e.anchor.y) == pytest.approx((0.7, 0.6))
    assert e.bbox is not None and e.bbox.y2 == 0.6
    assert e.evidence_uri == "s3://vidsight/evidence/x.jpg"
    assert e.dwell_s is None


def test_counts_reset_on_the_sensor_local_day() -> None:
    # 2023-11-14T22:13:20Z; 1h47m later it is the next UTC day.
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3, 0.7, 0.3])
    walk_x(feed, [0.7, 0.3], track_id=1)
    feed.walk(2, [(0.3, 0.5), (0.7, 0.5)], start=2 * 3600)
    assert crossings(feed) == [(A_TO_B, 1), (B_TO_A, 1), (A_TO_B, 2), (B_TO_A, 2), (A_TO_B, 1)]


def test_day_of_counts_follows_the_schedule_timezone() -> None:
    from sp_helpers import schedule

    # T0 is 22:13 UTC = 07:13 next day in Tokyo; +1h47m is still that Tokyo day.
    feed = Feed(make_engine(tripwire(schedule=schedule(tz="Asia/Tokyo"))))
    walk_x(feed, [0.3, 0.7])
    feed.walk(2, [(0.3, 0.5), (0.7, 0.5)], start=2 * 3600)
    assert crossings(feed) == [(A_TO_B, 1), (A_TO_B, 2)]


def test_low_score_sighting_defers_the_crossing_until_the_track_passes() -> None:
    feed = Feed(make_engine(tripwire(min_score=0.5)))
    feed.at(0.0, obj(1, 0.3, 0.5))
    feed.at(0.2, obj(1, 0.7, 0.5, score=0.2))  # crossed, but this sighting is filtered
    assert crossings(feed) == []
    feed.at(0.4, obj(1, 0.72, 0.5))
    assert crossings(feed) == [(A_TO_B, 1)]


def test_inertia_counts_a_crossing_made_while_the_track_was_being_confirmed() -> None:
    feed = Feed(make_engine(tripwire(inertia_frames=3)))
    walk_x(feed, [0.3, 0.7, 0.72])
    assert crossings(feed) == [(A_TO_B, 1)]


def test_label_filter() -> None:
    feed = Feed(make_engine(tripwire(labels=("car",))))
    feed.walk(1, [(0.3, 0.5), (0.7, 0.5)], label="person")
    feed.walk(2, [(0.3, 0.5), (0.7, 0.5)], label="car", start=1.0)
    assert [e.track_id for e in events(feed.outputs)] == [2]


def sign(x: float) -> int:
    return 1 if x < 0.5 else -1


@settings(max_examples=200, deadline=None)
@given(
    xs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
    ys=st.lists(st.floats(0.05, 0.95), min_size=40, max_size=40),
)
def test_crossings_alternate_and_match_the_net_displacement(
    xs: list[float], ys: list[float]
) -> None:
    # A full-height wire: every clear side change is a crossing, and they alternate.
    feed = Feed(make_engine(tripwire(points=((0.5, 0.0), (0.5, 1.0)))))
    feed.walk(1, list(zip(xs, ys, strict=False)))
    dirs = [e.direction for e in events(feed.outputs, SensorEventKind.LINE_CROSS)]
    assert all(a != b for a, b in itertools.pairwise(dirs))
    clear = [sign(x) for x in xs if abs(x - 0.5) > 0.005]
    changes = sum(1 for a, b in itertools.pairwise(clear) if a != b)
    assert len(dirs) == changes
    if dirs:
        assert dirs[0] is (A_TO_B if clear[0] == 1 else B_TO_A)


@settings(max_examples=200, deadline=None)
@given(
    xs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
    ys=st.lists(st.floats(0.65, 1.0), min_size=30, max_size=30),
)
def test_paths_that_stay_beyond_the_extent_never_count(xs: list[float], ys: list[float]) -> None:
    feed = Feed(make_engine(tripwire(points=((0.5, 0.0), (0.5, 0.6)))))
    feed.walk(1, list(zip(xs, ys, strict=False)))
    assert events(feed.outputs) == []


@settings(max_examples=100, deadline=None)
@given(noise=st.lists(st.floats(-0.0049, 0.0049), min_size=1, max_size=30))
def test_any_jitter_inside_the_band_counts_one_crossing(noise: list[float]) -> None:
    feed = Feed(make_engine(tripwire()))
    walk_x(feed, [0.3] + [0.5 + n for n in noise] + [0.7])
    assert crossings(feed) == [(A_TO_B, 1)]


def test_track_that_disappears_forgets_its_side() -> None:
    feed = Feed(make_engine(tripwire(), track_ttl_s=1.0))
    feed.at(0.0, obj(1, 0.3, 0.5))
    feed.at(0.5, obj(2, 0.1, 0.1))  # evidence that track 1 is absent
    feed.at(2.0, obj(2, 0.1, 0.1))  # track 1 expires here
    feed.at(2.2, obj(1, 0.7, 0.5))  # same id again: a new first sighting
    assert crossings(feed) == []
