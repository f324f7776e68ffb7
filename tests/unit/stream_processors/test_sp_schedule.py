"""Schedules in event time: windows, weekdays, wrap past midnight, DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sp_helpers import Feed, events, make_engine, obj, schedule, zone

from schemas.records import SensorEventKind, to_micros
from stream_processors.rules.schedule import ActiveSchedule, local_day

PARIS = "Europe/Paris"
NY = "America/New_York"


def at(
    year: int, month: int, day: int, hour: int, minute: int = 0, tz: str = "UTC", fold: int = 0
) -> int:
    """UTC microseconds of a local wall time."""
    return to_micros(datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz), fold=fold))


def active(sched: ActiveSchedule, ts: int) -> bool:
    return sched.is_active(ts)


def test_no_days_and_no_hours_is_always_active() -> None:
    s = ActiveSchedule(schedule())
    assert all(s.is_active(at(2024, 1, d, h)) for d in range(1, 8) for h in range(24))


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [(7, 59, False), (8, 0, True), (12, 0, True), (17, 59, True), (18, 0, False), (23, 0, False)],
)
def test_window_is_start_inclusive_end_exclusive(hour: int, minute: int, expected: bool) -> None:
    s = ActiveSchedule(schedule(hours=[(8 * 60, 18 * 60)]))
    assert s.is_active(at(2024, 3, 5, hour, minute)) is expected


def test_boundary_to_the_microsecond() -> None:
    s = ActiveSchedule(schedule(hours=[(8 * 60, 18 * 60)]))
    assert not s.is_active(at(2024, 3, 5, 8) - 1)
    assert s.is_active(at(2024, 3, 5, 8))
    assert s.is_active(at(2024, 3, 5, 18) - 1)
    assert not s.is_active(at(2024, 3, 5, 18))


def test_end_of_day_1440_includes_the_last_minute() -> None:
    s = ActiveSchedule(schedule(hours=[(22 * 60, 1440)]))
    assert s.is_active(at(2024, 3, 5, 23, 59))
    assert not s.is_active(at(2024, 3, 6, 0, 0))


@pytest.mark.parametrize(
    ("day", "expected"),
    [(4, True), (5, True), (6, True), (7, True), (8, True), (9, False), (10, False)],
)
def test_weekdays_are_iso(day: int, expected: bool) -> None:
    # March 2024: the 4th is a Monday, the 9th a Saturday.
    s = ActiveSchedule(schedule(days=[1, 2, 3, 4, 5]))
    assert s.is_active(at(2024, 3, day, 12)) is expected


def test_wrapping_window_belongs_to_the_day_it_starts() -> None:
    s = ActiveSchedule(schedule(days=[5], hours=[(22 * 60, 6 * 60)]))  # Friday night
    assert not s.is_active(at(2024, 3, 8, 21, 59))  # Friday
    assert s.is_active(at(2024, 3, 8, 22, 0))  # Friday
    assert s.is_active(at(2024, 3, 9, 5, 59))  # Saturday morning: still Friday's window
    assert not s.is_active(at(2024, 3, 9, 6, 0))
    assert not s.is_active(at(2024, 3, 9, 22, 30))  # Saturday night: not scheduled
    assert not s.is_active(at(2024, 3, 8, 3, 0))  # Friday early morning: Thursday's window


def test_several_windows() -> None:
    s = ActiveSchedule(schedule(hours=[(0, 60), (12 * 60, 13 * 60)]))
    assert [s.is_active(at(2024, 3, 5, h, 30)) for h in (0, 1, 12, 13)] == [
        True,
        False,
        True,
        False,
    ]


def test_timezone_shifts_the_window() -> None:
    s = ActiveSchedule(schedule(hours=[(9 * 60, 17 * 60)], tz=PARIS))
    assert s.is_active(at(2024, 1, 15, 8, 30))  # 09:30 in Paris (UTC+1)
    assert not s.is_active(at(2024, 1, 15, 16, 30))  # 17:30 in Paris


def test_dst_spring_forward_skipped_hour_never_opens() -> None:
    # 2024-03-31 in Paris: 02:00 -> 03:00. A 02:00-03:00 window does not exist that day.
    s = ActiveSchedule(schedule(hours=[(2 * 60, 3 * 60)], tz=PARIS))
    start = at(2024, 3, 30, 22)
    minutes = [start + m * 60_000_000 for m in range(8 * 60)]
    assert not any(s.is_active(t) for t in minutes)
    assert s.is_active(at(2024, 3, 30, 2, 30, tz=PARIS))  # the day before it does
    assert s.is_active(at(2024, 4, 1, 2, 30, tz=PARIS))  # and the day after


def test_dst_spring_forward_window_across_the_gap_is_one_hour_shorter() -> None:
    s = ActiveSchedule(schedule(hours=[(1 * 60, 4 * 60)], tz=PARIS))
    start = at(2024, 3, 30, 20)
    open_minutes = sum(s.is_active(start + m * 60_000_000) for m in range(10 * 60))
    assert open_minutes == 2 * 60  # 01:00-02:00 and 03:00-04:00 local


def test_dst_fall_back_repeated_hour_is_open_both_times() -> None:
    # 2024-11-03 in New York: 02:00 EDT -> 01:00 EST; 01:00-02:00 happens twice.
    s = ActiveSchedule(schedule(hours=[(60, 2 * 60)], tz=NY))
    first = at(2024, 11, 3, 1, 30, tz=NY, fold=0)
    second = at(2024, 11, 3, 1, 30, tz=NY, fold=1)
    assert second - first == 3600 * 1_000_000
    assert s.is_active(first) and s.is_active(second)
    start = at(2024, 11, 3, 0, tz=NY)
    open_minutes = sum(s.is_active(start + m * 60_000_000) for m in range(5 * 60))
    assert open_minutes == 2 * 60


def test_dst_day_boundaries_follow_local_midnight() -> None:
    s = ActiveSchedule(schedule(days=[7], tz=PARIS))  # Sundays
    sunday = at(2024, 3, 31, 0, 0, tz=PARIS)  # the spring-forward Sunday: 23 hours long
    assert not s.is_active(sunday - 1)
    assert s.is_active(sunday)
    monday = at(2024, 4, 1, 0, 0, tz=PARIS)
    assert monday - sunday == 23 * 3600 * 1_000_000
    assert s.is_active(monday - 1) and not s.is_active(monday)


def test_cache_does_not_leak_across_minutes() -> None:
    s = ActiveSchedule(schedule(hours=[(8 * 60, 8 * 60 + 1)]))
    t = at(2024, 3, 5, 8)
    assert [
        s.is_active(t - 1),
        s.is_active(t),
        s.is_active(t + 59_999_999),
        s.is_active(t + 60_000_000),
    ] == [False, True, True, False]
    assert s.is_active(t)  # going back in time recomputes


def reference(days: list[int], windows: list[tuple[int, int]], tz: str, ts: int) -> bool:
    local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts)).astimezone(ZoneInfo(tz))
    m = local.hour * 60 + local.minute
    day = local.isoweekday()
    yesterday = (local - timedelta(days=1)).isoweekday()
    allowed = set(days) or set(range(1, 8))
    for start, end in windows or [(0, 1440)]:
        if start < end and day in allowed and start <= m < end:
            return True
        if start > end and ((day in allowed and m >= start) or (yesterday in allowed and m < end)):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(
    days=st.lists(st.integers(1, 7), max_size=7, unique=True),
    windows=st.lists(
        st.tuples(st.integers(0, 1439), st.integers(0, 1440)).filter(lambda w: w[0] != w[1]),
        max_size=3,
    ),
    tz=st.sampled_from(["UTC", PARIS, NY, "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu"]),
    ts=st.integers(at(2020, 1, 1, 0), at(2030, 1, 1, 0)),
)
def test_matches_a_reference_model(
    days: list[int], windows: list[tuple[int, int]], tz: str, ts: int
) -> None:
    s = ActiveSchedule(schedule(days=days, hours=windows, tz=tz))
    assert s.is_active(ts) is reference(days, windows, tz, ts)


def test_local_day_changes_at_local_midnight() -> None:
    tz = ZoneInfo("Asia/Tokyo")
    midnight = at(2024, 3, 5, 0, 0, tz="Asia/Tokyo")
    assert local_day(midnight, tz) == local_day(midnight - 1, tz) + 1


def test_sensor_ignores_objects_outside_its_schedule() -> None:
    # T0 is Tuesday 2023-11-14 22:13 UTC; active only 22:00-22:30 UTC.
    feed = Feed(make_engine(zone(schedule=schedule(hours=[(22 * 60, 22 * 60 + 30)]))))
    feed.at(0.0, obj(1, 0.5, 0.5))  # 22:13: active
    assert [e.kind for e in events(feed.outputs)] == [
        SensorEventKind.ZONE_ENTER,
        SensorEventKind.OCCUPANCY,
    ]
    feed.at(20 * 60.0, obj(2, 0.5, 0.5))  # 22:33: inactive
    kinds = [(e.kind, e.count) for e in events(feed.outputs)]
    # closing the schedule forgets who was inside (occupancy back to 0), track 2 is ignored
    assert kinds[-1] == (SensorEventKind.OCCUPANCY, 0)
    assert all(e.track_id != 2 for e in events(feed.outputs))


def test_reopening_schedule_sees_objects_already_inside_as_entering() -> None:
    feed = Feed(make_engine(zone(schedule=schedule(hours=[(22 * 60 + 20, 23 * 60)]))))
    feed.at(0.0, obj(1, 0.5, 0.5))  # 22:13: not yet
    assert events(feed.outputs) == []
    feed.at(8 * 60.0, obj(1, 0.5, 0.5))  # 22:21: open
    assert [e.kind for e in events(feed.outputs)] == [
        SensorEventKind.ZONE_ENTER,
        SensorEventKind.OCCUPANCY,
    ]
