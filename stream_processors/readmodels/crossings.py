"""Tripwire crossings per sensor, per UTC day and hour of event time, by direction.

One value per camera holds its tripwires' last ``keep_days`` days (counted back from the
newest event day seen on that camera), so the value stays bounded however long it runs;
crossings for a day that has already dropped out of that window are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.records import CrossingDirection, SensorEvent, SensorEventKind
from stream_processors.readmodels.buckets import (
    HOURS,
    NO_OFFSET,
    day_of,
    days_before,
    hour_of,
    is_redelivery,
    require_int,
)
from stream_processors.readmodels.errors import StateFormatError

_ZERO_HOURS: tuple[int, ...] = (0,) * HOURS


def _hours(data: object, name: str) -> tuple[int, ...]:
    if not isinstance(data, list) or len(data) != HOURS:
        raise StateFormatError(f"{name}: expected {HOURS} hourly counts, got {data!r}")
    return tuple(require_int(v, name) for v in data)


@dataclass(frozen=True, slots=True)
class DayCrossings:
    """One tripwire's crossings of one day: 24 hourly counts per direction."""

    a_to_b: tuple[int, ...] = _ZERO_HOURS
    b_to_a: tuple[int, ...] = _ZERO_HOURS

    def add(self, direction: CrossingDirection, hour: int) -> DayCrossings:
        """These counts plus one crossing in ``direction`` during ``hour``."""
        if direction == CrossingDirection.A_TO_B:
            return DayCrossings(_bump(self.a_to_b, hour), self.b_to_a)
        return DayCrossings(self.a_to_b, _bump(self.b_to_a, hour))

    def view(self) -> dict[str, Any]:
        """Totals per direction and overall, plus the hourly counts."""
        a, b = sum(self.a_to_b), sum(self.b_to_a)
        return {
            "a_to_b": a,
            "b_to_a": b,
            "total": a + b,
            "hourly": {"a_to_b": list(self.a_to_b), "b_to_a": list(self.b_to_a)},
        }


def _bump(counts: tuple[int, ...], hour: int) -> tuple[int, ...]:
    return (*counts[:hour], counts[hour] + 1, *counts[hour + 1 :])


@dataclass(frozen=True, slots=True)
class CameraCrossings:
    """Crossings of every tripwire of one camera: sensor -> day -> counts.

    ``newest_day`` is the newest event day seen, which the retention window counts back from;
    ``offset`` is the last source record applied.
    """

    offset: int = NO_OFFSET
    newest_day: str = ""
    sensors: Mapping[str, Mapping[str, DayCrossings]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form (the changelog value)."""
        return {
            "offset": self.offset,
            "newest_day": self.newest_day,
            "sensors": {
                s: {d: [list(c.a_to_b), list(c.b_to_a)] for d, c in days.items()}
                for s, days in self.sensors.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CameraCrossings:
        """Back from the stored form."""
        sensors = {
            str(s): {
                str(d): DayCrossings(_hours(a, "a_to_b"), _hours(b, "b_to_a"))
                for d, (a, b) in days.items()
            }
            for s, days in data["sensors"].items()
        }
        return cls(require_int(data["offset"], "offset"), str(data["newest_day"]), sensors)


def apply_crossing(
    state: CameraCrossings, event: SensorEvent, offset: int, *, keep_days: int
) -> CameraCrossings:
    """The camera's crossings after one sensor event (``state`` itself when it changes nothing).

    Counts ``line_cross`` events with a direction in the hour of their event time; days older
    than ``keep_days`` before the newest one are dropped.
    """
    direction = event.direction
    if event.kind != SensorEventKind.LINE_CROSS or direction not in (
        CrossingDirection.A_TO_B,
        CrossingDirection.B_TO_A,
    ):
        return state
    if is_redelivery(offset, state.offset):
        return state
    day = day_of(event.ts)
    newest = max(day, state.newest_day)
    oldest = days_before(newest, keep_days - 1)
    if day < oldest:
        return state
    sensors: dict[str, Mapping[str, DayCrossings]] = dict(state.sensors)
    if newest != state.newest_day:
        sensors = {s: {d: c for d, c in days.items() if d >= oldest} for s, days in sensors.items()}
        sensors = {s: days for s, days in sensors.items() if days}
    days = dict(sensors.get(event.sensor_id, {}))
    days[day] = days.get(day, DayCrossings()).add(direction, hour_of(event.ts))
    sensors[event.sensor_id] = days
    return CameraCrossings(offset, newest, sensors)


def crossings_view(
    camera_id: str, state: CameraCrossings | None, day: str, sensor_id: str | None = None
) -> dict[str, Any]:
    """The HTTP answer for one day: every tripwire's counts, or one tripwire's.

    ``days`` lists the days the table still holds, so a client can discover them.
    """
    sensors = {} if state is None else state.sensors
    held = sorted({d for days in sensors.values() for d in days})
    if sensor_id is not None:
        counts = sensors.get(sensor_id, {}).get(day, DayCrossings())
        return {
            "camera_id": camera_id,
            "sensor_id": sensor_id,
            "day": day,
            **counts.view(),
            "days": held,
        }
    return {
        "camera_id": camera_id,
        "day": day,
        "sensors": {s: days[day].view() for s, days in sorted(sensors.items()) if day in days},
        "days": held,
    }
