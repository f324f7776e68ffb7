"""Closed hours: each requested once, none without new data, none while a source is empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from etl.analytics import closing

GRACE = timedelta(minutes=5)


def t(h: int, m: int = 0) -> datetime:
    return datetime(2024, 5, 6, h, m, tzinfo=UTC)


def test_first_tick_requests_every_closed_hour_from_the_first_event() -> None:
    hours, cursor = closing.plan(None, {"ch": t(15, 4)}, GRACE, first_data=t(12, 30))
    # 15:04 - 5 min = 14:59: hours 12 and 13 closed, 14 not yet (its end + grace is 15:05)
    assert hours == [t(12), t(13)] and cursor == t(14).isoformat()


def test_a_closed_hour_is_requested_once_and_nothing_without_new_data() -> None:
    cursor = t(14).isoformat()
    assert closing.plan(cursor, {"ch": t(15, 4)}, GRACE) == ([], cursor)
    hours, cursor2 = closing.plan(cursor, {"ch": t(15, 5)}, GRACE)
    assert hours == [t(14)] and cursor2 == t(15).isoformat()
    assert closing.plan(cursor2, {"ch": t(15, 5)}, GRACE) == ([], cursor2)


def test_the_slowest_source_decides_and_an_empty_one_blocks() -> None:
    assert closing.plan(None, {"a": t(18), "b": t(14, 10)}, GRACE, first_data=t(12)) == (
        [t(12), t(13)],
        t(14).isoformat(),
    )
    assert closing.plan(None, {"a": t(18), "b": None}, GRACE, first_data=t(12)) == ([], None)
    assert closing.plan(None, {"a": t(18)}, GRACE) == ([], None)  # no data at all


def test_a_long_history_is_requested_a_week_per_tick() -> None:
    hours, cursor = closing.plan(None, {"a": t(0) + timedelta(days=30)}, GRACE, first_data=t(0))
    assert len(hours) == closing.MAX_HOURS_PER_TICK
    assert cursor == (t(0) + timedelta(hours=closing.MAX_HOURS_PER_TICK)).isoformat()
