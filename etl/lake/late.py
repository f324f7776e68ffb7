"""Late data: hours whose archive received records after the hour was materialized.

The sensor lists recent archive objects with their last-modified times and asks which hours
to run again; its cursor is the newest last-modified time already handled, so an object is
looked at once (no repeated request without new data) and none is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime


def late_hours(
    objects: Iterable[tuple[datetime, datetime]],
    materialized: Mapping[datetime, datetime],
    cursor: datetime | None,
) -> tuple[list[datetime], datetime | None]:
    """Hours to rerun and the new cursor.

    ``objects``: (hour, last modified) of archive objects; ``materialized``: when each hour
    was last materialized (hours never materialized are not late: their first run is the
    schedule's business). An object counts when it is newer than the cursor and than its
    hour's materialization.
    """
    hours: set[datetime] = set()
    newest = cursor
    for hour, modified in objects:
        if cursor is not None and modified <= cursor:
            continue
        newest = modified if newest is None or modified > newest else newest
        done = materialized.get(hour)
        if done is not None and modified > done:
            hours.add(hour)
    return sorted(hours), newest
