"""Event-time buckets: UTC day and hour of micros, day parsing, the redelivery rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_rm_helpers import DAY0, T0

from schemas.records import from_micros
from stream_processors.readmodels.buckets import (
    day_of,
    days_before,
    hour_of,
    is_redelivery,
    parse_day,
    require_int,
)
from stream_processors.readmodels.errors import StateFormatError


def test_day_and_hour_are_utc_of_the_event_time() -> None:
    assert (day_of(T0), hour_of(T0)) == (DAY0, 22)
    midnight = 1_700_006_400_000_000  # 2023-11-15T00:00:00Z
    assert (day_of(midnight - 1), hour_of(midnight - 1)) == (DAY0, 23)
    assert (day_of(midnight), hour_of(midnight)) == ("2023-11-15", 0)


def test_times_before_the_epoch() -> None:
    assert (day_of(-1), hour_of(-1)) == ("1969-12-31", 23)


@given(st.integers(min_value=-(10**16), max_value=4 * 10**15))
def test_buckets_match_datetime(ts: int) -> None:
    moment = from_micros(ts)
    assert day_of(ts) == moment.date().isoformat()
    assert hour_of(ts) == moment.hour


def test_parse_day() -> None:
    assert parse_day("2023-11-14") == "2023-11-14"
    for bad in ("20231114", "2023-13-01", "14.11.2023", "", "2023-11-14T00"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_day(bad)


def test_days_before() -> None:
    assert days_before("2024-03-01", 1) == "2024-02-29"
    assert days_before(DAY0, 0) == DAY0


def test_redelivery_is_at_or_below_the_applied_offset() -> None:
    assert is_redelivery(5, 5) and is_redelivery(4, 5)
    assert not is_redelivery(6, 5)
    assert not is_redelivery(0, -1)


def test_require_int() -> None:
    assert require_int(3, "x") == 3
    for bad in (True, 1.5, "3", None):
        with pytest.raises(StateFormatError, match="x"):
            require_int(bad, "x")


def test_utc_today_is_todays_date() -> None:
    from stream_processors.readmodels.buckets import utc_today

    before = datetime.now(UTC).date().isoformat()
    today = utc_today()
    assert today in {before, datetime.now(UTC).date().isoformat()}
