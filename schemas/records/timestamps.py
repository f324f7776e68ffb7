"""Event times are ``int`` UTC microseconds in every record.

Why ints and not datetimes: the detections path is the hot loop, and converting to and from
``datetime`` costs about as much as decoding the rest of a record. The Avro schemas still
declare ``timestamp-micros``, so other consumers see proper timestamps; convert at the edges
with these helpers.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """UTC microseconds since the epoch of an aware datetime (naive ones are rejected)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: event times must be tz-aware")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """Aware UTC datetime of UTC microseconds since the epoch (exact, no float rounding)."""
    return _EPOCH + timedelta(microseconds=micros)


def now_micros() -> int:
    """Wall-clock now in UTC microseconds; for producers only, never for rules (event time)."""
    return time.time_ns() // 1000
