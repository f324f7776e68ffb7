"""Event-time buckets of the read models: UTC days and hours of ``ts`` micros, and offsets.

Every bucket comes from the event's own time, never the wall clock, so replaying a topic
rebuilds the same tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from stream_processors.readmodels.errors import StateFormatError

HOURS = 24
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = HOURS * _US_PER_HOUR
_EPOCH_DAY = date(1970, 1, 1)

NO_OFFSET = -1
"""The source offset of a table value that no record has changed yet."""


def day_of(ts_us: int) -> str:
    """The UTC day of an event time as ``YYYY-MM-DD``."""
    return (_EPOCH_DAY + timedelta(days=ts_us // _US_PER_DAY)).isoformat()


def hour_of(ts_us: int) -> int:
    """The UTC hour (0-23) of an event time."""
    return (ts_us // _US_PER_HOUR) % HOURS


def parse_day(text: str) -> str:
    """A ``YYYY-MM-DD`` day, checked; ValueError naming the expected form otherwise."""
    try:
        # fromisoformat alone would also take the basic form 20231114.
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise ValueError(f"day must be YYYY-MM-DD, got {text!r}")


def days_before(day: str, count: int) -> str:
    """The day ``count`` days before ``day`` (both ``YYYY-MM-DD``)."""
    return (date.fromisoformat(day) - timedelta(days=count)).isoformat()


def utc_today() -> str:
    """Today's UTC day by the wall clock: only for defaulting a query, never for bucketing."""
    return datetime.now(UTC).date().isoformat()


def is_redelivery(offset: int, applied: int) -> bool:
    """Whether a source record at ``offset`` was already applied to a value (``applied``).

    Every key is one camera and one camera's records sit on one partition in offset order, so
    after a crash the records re-read from the last committed offset are exactly those at or
    below the offset the recovered value remembers: skipping them makes the counts exact under
    at-least-once delivery.
    """
    return offset <= applied


def require_int(data: object, name: str) -> int:
    """An int field of a stored value (bool excluded); StateFormatError otherwise."""
    if isinstance(data, bool) or not isinstance(data, int):
        raise StateFormatError(f"{name}: expected an integer, got {data!r}")
    return data
