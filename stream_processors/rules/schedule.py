"""Sensor schedules and sensor-local days, evaluated in event time with zoneinfo.

Windows are local wall-clock minutes, so DST is handled by converting each instant to local
time: on the spring-forward day a window inside the skipped hour never opens, on the
fall-back day a window covering the repeated hour is open both times round.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.records import Schedule

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_US = 60_000_000


def local_time(ts_us: int, tz: ZoneInfo) -> datetime:
    """The aware local datetime of UTC microseconds (exact, no float rounding)."""
    return (_EPOCH + timedelta(microseconds=ts_us)).astimezone(tz)


def local_day(ts_us: int, tz: ZoneInfo) -> int:
    """Proleptic ordinal of the local date of an instant (what per-day counters reset on)."""
    return local_time(ts_us, tz).toordinal()


class ActiveSchedule:
    """A compiled :class:`Schedule`: ``is_active(ts_us)`` with a one-minute cache.

    The cache is keyed by the UTC minute: every current timezone offset is a whole number of
    minutes, so a local minute never straddles two UTC minutes and the answer cannot change
    inside one. The detections path then pays one integer division per message instead of a
    timezone conversion.

    A window whose end is before its start wraps past midnight; its after-midnight part
    belongs to the day it started on (``days=[5]`` with 22:00-06:00 covers Friday night into
    Saturday morning, not Saturday night).
    """

    __slots__ = ("_active", "_days", "_minute", "_windows", "tz")

    def __init__(self, schedule: Schedule) -> None:
        self.tz = ZoneInfo(schedule.timezone)
        self._days = frozenset(schedule.days) if schedule.days else frozenset(range(1, 8))
        self._windows = tuple((w.start_min, w.end_min) for w in schedule.hours) or ((0, 1440),)
        self._minute = -(2**62)
        self._active = False

    def is_active(self, ts_us: int) -> bool:
        """Whether the schedule is open at the instant."""
        minute = ts_us // _MINUTE_US
        if minute != self._minute:
            self._minute = minute
            self._active = self._compute(ts_us)
        return self._active

    def _compute(self, ts_us: int) -> bool:
        local = local_time(ts_us, self.tz)
        minute_of_day = local.hour * 60 + local.minute
        day = local.isoweekday()
        previous_day = 7 if day == 1 else day - 1
        days = self._days
        for start, end in self._windows:
            if start < end:
                if day in days and start <= minute_of_day < end:
                    return True
            elif (day in days and minute_of_day >= start) or (
                previous_day in days and minute_of_day < end
            ):
                return True
        return False
