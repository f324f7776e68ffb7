"""Current occupancy per zone: the count of the newest ``occupancy`` event of each zone.

The zone rule publishes an ``occupancy`` event, carrying the new count, whenever the number of
objects inside changes (with the enters and exits around it), so the newest one by event time
is the zone's occupancy now; enters and exits themselves are not counted again here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.records import SensorEvent, SensorEventKind
from stream_processors.readmodels.buckets import NO_OFFSET, is_redelivery, require_int


@dataclass(frozen=True, slots=True)
class ZoneOccupancy:
    """Objects inside one zone as of event time ``ts``."""

    count: int
    ts: int


@dataclass(frozen=True, slots=True)
class CameraOccupancy:
    """Occupancy of every zone of one camera seen so far; ``offset``: last record applied."""

    offset: int = NO_OFFSET
    zones: Mapping[str, ZoneOccupancy] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form (the changelog value)."""
        return {
            "offset": self.offset,
            "zones": {z: [o.count, o.ts] for z, o in self.zones.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CameraOccupancy:
        """Back from the stored form."""
        zones = {
            str(z): ZoneOccupancy(require_int(c, "count"), require_int(t, "ts"))
            for z, (c, t) in data["zones"].items()
        }
        return cls(require_int(data["offset"], "offset"), zones)


def apply_occupancy(state: CameraOccupancy, event: SensorEvent, offset: int) -> CameraOccupancy:
    """The camera's occupancy after one sensor event (``state`` itself when it changes nothing).

    Only ``occupancy`` events with a count matter; an older one than the zone's current value
    (by event time) does not overwrite it.
    """
    if event.kind != SensorEventKind.OCCUPANCY or event.count is None:
        return state
    if is_redelivery(offset, state.offset):
        return state
    current = state.zones.get(event.sensor_id)
    if current is not None and event.ts < current.ts:
        return state
    zones = dict(state.zones)
    zones[event.sensor_id] = ZoneOccupancy(max(event.count, 0), event.ts)
    return CameraOccupancy(offset, zones)


def occupancy_view(camera_id: str, state: CameraOccupancy | None) -> dict[str, Any]:
    """The HTTP answer: every zone's count and the event time it is as of."""
    zones = {} if state is None else state.zones
    return {
        "camera_id": camera_id,
        "zones": {z: {"count": o.count, "ts": o.ts} for z, o in sorted(zones.items())},
        "total": sum(o.count for o in zones.values()),
    }
