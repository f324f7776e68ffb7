"""The speed sensor kind: speed between two lines from interpolated crossing times."""

from __future__ import annotations

import pytest
from sp_helpers import (
    CAM,
    T0,
    Feed,
    S,
    alerts,
    events,
    make_engine,
    obj,
    speed,
    tripwire,
)

from schemas.records import (
    AlertLifecycle,
    CrossingDirection,
    DirectionFilter,
    SensorEventKind,
    SensorKind,
)
from stream_processors.rules import Engine, EngineOptions

A_TO_B = CrossingDirection.A_TO_B
B_TO_A = CrossingDirection.B_TO_A
SPEED = SensorEventKind.SPEED


def walk(
    feed: Feed,
    x0: float,
    per_s: float,
    until: float,
    *,
    track_id: int = 1,
    start: float = 0.0,
    step: float = 0.3,
    y: float = 0.5,
) -> None:
    """One object moving along x at ``per_s`` of the frame width per second, sampled every
    ``step`` seconds from ``start`` until its x passes ``until``."""
    k = 0
    while True:
        t = start + k * step
        x = x0 + per_s * (t - start)
        if (per_s > 0 and x > until) or (per_s < 0 and x < until):
            return
        feed.at(t, obj(track_id, x, y))
        k += 1


def test_speed_is_the_distance_over_the_interpolated_time_between_the_lines() -> None:
    # x = 0.15 + 0.1 t: line 1 (x = 0.3) at t = 1.5 s, line 2 (x = 0.7) at t = 5.5 s, while
    # frames come at 1.2/1.8 and 5.4/5.7 s: 20 m in exactly 4 s is 5 m/s = 18 km/h.
    feed = Feed(make_engine(speed(distance_m=20.0)))
    walk(feed, 0.15, 0.1, 0.9)
    (event,) = events(feed.outputs, SPEED)
    assert event.speed_kmh == pytest.approx(18.0, rel=1e-9)
    assert event.dwell_s == pytest.approx(4.0, abs=1e-6)
    assert event.direction is A_TO_B
    assert (event.sensor_id, event.track_id, event.label) == ("speed", 1, "person")
    assert event.ts == T0 + round(5.7 * S)  # the frame that showed the second crossing
    assert alerts(feed.outputs) == []  # no threshold: measurements only


@pytest.mark.parametrize(("per_s", "kmh"), [(0.05, 9.0), (0.2, 36.0), (0.4, 72.0)])
def test_each_speed_is_measured_exactly(per_s: float, kmh: float) -> None:
    feed = Feed(make_engine(speed(distance_m=20.0)))
    walk(feed, 0.1, per_s, 0.95, step=0.2)
    (event,) = events(feed.outputs, SPEED)
    assert event.speed_kmh == pytest.approx(kmh, rel=1e-9)


def test_faster_than_the_threshold_alerts() -> None:
    feed = Feed(make_engine(speed(speed_kmh_threshold=15.0, group_gap_s=5.0)))
    walk(feed, 0.15, 0.1, 0.9)
    (event,) = events(feed.outputs, SPEED)
    (alert,) = alerts(feed.outputs, AlertLifecycle.NEW)
    assert (alert.kind, alert.rule, alert.sensor_id) == (SPEED, SensorKind.SPEED, "speed")
    assert alert.start_ts == event.ts and alert.track_ids == (1,)
    assert alert.direction is A_TO_B
    feed.advance(20.0)
    (end,) = alerts(feed.outputs, AlertLifecycle.END)
    assert end.alert_id == alert.alert_id and end.end_ts == event.ts


@pytest.mark.parametrize("threshold", [18.5, 30.0])
def test_at_or_below_the_threshold_is_an_event_without_an_alert(threshold: float) -> None:
    feed = Feed(make_engine(speed(speed_kmh_threshold=threshold)))
    walk(feed, 0.15, 0.1, 0.9)
    assert len(events(feed.outputs, SPEED)) == 1
    assert alerts(feed.outputs) == []


def test_line_2_then_line_1_is_b_to_a() -> None:
    feed = Feed(make_engine(speed()))
    walk(feed, 0.85, -0.1, 0.1)
    (event,) = events(feed.outputs, SPEED)
    assert event.direction is B_TO_A
    assert event.speed_kmh == pytest.approx(18.0, rel=1e-9)


@pytest.mark.parametrize(
    ("direction", "per_s", "measured"),
    [
        (DirectionFilter.A_TO_B, 0.1, [A_TO_B]),
        (DirectionFilter.A_TO_B, -0.1, []),
        (DirectionFilter.B_TO_A, 0.1, []),
        (DirectionFilter.B_TO_A, -0.1, [B_TO_A]),
        (DirectionFilter.BOTH, 0.1, [A_TO_B]),
        (DirectionFilter.BOTH, -0.1, [B_TO_A]),
    ],
)
def test_the_wrong_direction_is_not_measured(
    direction: DirectionFilter, per_s: float, measured: list[CrossingDirection]
) -> None:
    feed = Feed(make_engine(speed(direction=direction, speed_kmh_threshold=1.0)))
    walk(feed, 0.15 if per_s > 0 else 0.85, per_s, 0.9 if per_s > 0 else 0.1)
    assert [e.direction for e in events(feed.outputs, SPEED)] == measured
    assert len(alerts(feed.outputs)) == len(measured)


def test_only_line_1_crossed_is_no_measurement() -> None:
    feed = Feed(make_engine(speed()))
    walk(feed, 0.15, 0.1, 0.5)
    walk(feed, 0.5, -0.1, 0.1, start=feed.last + 0.3)
    assert events(feed.outputs, SPEED) == []


def test_back_over_line_1_restarts_the_passage() -> None:
    # Over line 1, back, over it again: the passage starts at the last crossing of line 1.
    feed = Feed(make_engine(speed()))
    walk(feed, 0.15, 0.1, 0.5)  # line 1 at t = 1.5
    back = feed.last + 0.3
    walk(feed, 0.5, -0.1, 0.2, start=back)
    again = feed.last + 0.3
    walk(feed, 0.2, 0.1, 0.9, start=again)
    (event,) = events(feed.outputs, SPEED)
    assert event.speed_kmh == pytest.approx(18.0, rel=1e-9)  # line 1 again after 1 s, 4 s on


def test_a_track_lost_between_the_lines_is_not_measured() -> None:
    feed = Feed(make_engine(speed(), track_ttl_s=1.0))
    walk(feed, 0.15, 0.1, 0.5)  # over line 1 by t = 3.3
    feed.frame(3.6, analysed=True)  # an analysed frame without it: the track is gone ...
    feed.advance(6.0)  # ... once its time to live ran out
    walk(feed, 0.52, 0.1, 0.9, start=6.3)  # the same id again, over line 2 only
    assert events(feed.outputs, SPEED) == []


@pytest.mark.parametrize(("max_seconds", "measured"), [(3.9, 0), (4.1, 1)])
def test_a_passage_slower_than_max_seconds_is_not_measured(
    max_seconds: float, measured: int
) -> None:
    feed = Feed(make_engine(speed(max_seconds=max_seconds)))
    walk(feed, 0.15, 0.1, 0.9)  # 4 s between the lines
    assert len(events(feed.outputs, SPEED)) == measured


def test_tracks_are_measured_each_on_their_own() -> None:
    feed = Feed(make_engine(speed()))
    for k in range(40):
        t = k * 0.2
        objs = [obj(1, 0.1 + 0.1 * t, 0.4)]
        if 0.1 + 0.2 * t < 0.95:
            objs.append(obj(2, 0.1 + 0.2 * t, 0.6, label="car"))
        feed.at(t, *objs)
    got = {e.track_id: (e.label, e.speed_kmh) for e in events(feed.outputs, SPEED)}
    assert got == {1: ("person", pytest.approx(18.0)), 2: ("car", pytest.approx(36.0))}


def test_crossings_outside_a_line_s_extent_do_not_count() -> None:
    short = ((0.3, 0.2), (0.3, 0.8), (0.7, 0.2), (0.7, 0.8))
    feed = Feed(make_engine(speed(points=short)))
    walk(feed, 0.15, 0.1, 0.9, y=0.9)  # below both segments
    assert events(feed.outputs, SPEED) == []


def test_label_and_score_filters_apply() -> None:
    feed = Feed(make_engine(speed(labels=("car",)), speed("fussy", min_score=0.95)))
    walk(feed, 0.15, 0.1, 0.9)  # a person scoring 0.9
    assert events(feed.outputs, SPEED) == []


def test_a_restored_camera_finishes_the_passage() -> None:
    cfg = speed(speed_kmh_threshold=10.0)
    first = Feed(make_engine(cfg))
    walk(first, 0.15, 0.1, 0.5)  # over line 1
    saved = first.engine.snapshot(CAM)
    engine = Engine(EngineOptions())
    engine.on_sensor(cfg.sensor_id, cfg)
    engine.restore(CAM, saved)
    second = Feed(engine)
    second.seq = first.seq
    walk(second, 0.15, 0.1, 0.9, start=0.0)  # the same walk: its earlier frames are old
    (event,) = events(second.outputs, SPEED)
    assert event.speed_kmh == pytest.approx(18.0, rel=1e-9)
    assert len(alerts(second.outputs, AlertLifecycle.NEW)) == 1


def test_a_tripwire_on_line_2_sees_the_same_crossing() -> None:
    line_2 = ((0.7, 0.0), (0.7, 1.0))
    feed = Feed(make_engine(speed(), tripwire(points=line_2)))
    walk(feed, 0.15, 0.1, 0.9)
    (cross,) = events(feed.outputs, SensorEventKind.LINE_CROSS)
    (measured,) = events(feed.outputs, SPEED)
    assert cross.ts == measured.ts and cross.track_id == measured.track_id
