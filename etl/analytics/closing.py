"""Which hours are closed: a pure plan for the sources sensor, driven by a cursor.

An hour is closed for a source when the source's watermark (the newest event time its sink
stored) has passed the hour's end plus a grace period; the hourly analytics need every source
they read closed. The cursor is the first hour not yet requested, so each closed hour is
requested exactly once and nothing is requested while no watermark moves past a new hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
MAX_HOURS_PER_TICK = 168
"""A first tick over a long history requests at most a week; the next ticks go on from there."""


def floor_hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def closed_before(watermarks: Mapping[str, datetime | None], grace: timedelta) -> datetime | None:
    """The end of the last hour closed for every source (None while a source has no data)."""
    if not watermarks or any(w is None for w in watermarks.values()):
        return None
    oldest = min(w for w in watermarks.values() if w is not None)
    return floor_hour(oldest - grace)


def plan(
    cursor: str | None,
    watermarks: Mapping[str, datetime | None],
    grace: timedelta,
    *,
    first_data: datetime | None = None,
) -> tuple[list[datetime], str | None]:
    """(hours to request, new cursor) for one tick.

    ``cursor`` is the ISO start of the first hour not yet requested; without one the plan
    starts at ``first_data``'s hour (the oldest stored event). The cursor comes back
    unchanged when nothing closed.
    """
    until = closed_before(watermarks, grace)
    if until is None:
        return [], cursor
    if cursor:
        start = datetime.fromisoformat(cursor)
    elif first_data is not None:
        start = floor_hour(first_data)
    else:
        return [], cursor
    hours: list[datetime] = []
    h = start
    while h + HOUR <= until and len(hours) < MAX_HOURS_PER_TICK:
        hours.append(h)
        h += HOUR
    return hours, (h.isoformat() if hours else cursor)
