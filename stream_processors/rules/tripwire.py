"""The ``tripwire`` sensor kind: crossings of a segment per direction, counted per local day.

Side ``a`` of P0 -> P1 is where cross(P1 - P0, p - P0) > 0 (DESIGN.md); for the line
[[0.5, 0], [0.5, 1]] that is the left half, so ``a_to_b`` is a left-to-right crossing.
An anchor closer than ``hysteresis`` to the line never changes a track's side, so jitter on
the line is never counted twice.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from schemas.records import (
    CrossingDirection,
    DirectionFilter,
    SensorConfig,
    SensorEventKind,
    SensorKind,
)
from stream_processors.rules.base import Fail, Rule, RuleContext, SensorKindSpec
from stream_processors.rules.geometry import Segment, as_coords
from stream_processors.rules.options import EngineOptions
from stream_processors.rules.schedule import local_day
from stream_processors.rules.shapes import check_segments
from stream_processors.rules.tracks import Track


class TripwireRule(Rule):
    """Tripwire: counts crossings of the segment per direction.

    Each track keeps its last side and the last position where it was clearly (farther than
    the hysteresis) on that side. A crossing is a move from that position to one clearly on
    the other side whose path meets the line within the segment's extent; going round an end
    point flips the side without counting.
    """

    __slots__ = ("counts", "day", "eps", "seg", "sides", "tz", "wants_a_to_b", "wants_b_to_a")

    def __init__(self, cfg: SensorConfig, opts: EngineOptions) -> None:
        super().__init__(cfg, opts)
        self.seg = Segment.from_coords(as_coords(cfg.points))
        self.eps = opts.hysteresis
        self.wants_a_to_b = cfg.direction in (DirectionFilter.BOTH, DirectionFilter.A_TO_B)
        self.wants_b_to_a = cfg.direction in (DirectionFilter.BOTH, DirectionFilter.B_TO_A)
        if cfg.timezone is not None:
            self.tz = ZoneInfo(cfg.timezone)
        else:
            self.tz = self.schedule.tz if self.schedule is not None else ZoneInfo("UTC")
        self.sides: dict[int, list[float]] = {}  # track -> [side +1/-1, x, y, signed distance]
        self.day = 0
        self.counts = [0, 0]  # a_to_b, b_to_a crossings on ``day`` (sensor-local date)

    def observe(self, ctx: RuleContext, track: Track, ax: float, ay: float, ok: bool) -> None:
        seg = self.seg
        # Segment.signed_distance inlined: this runs for every object and tripwire.
        d = (seg.dx * (ay - seg.y0) - seg.dy * (ax - seg.x0)) * seg.inv_len
        eps = self.eps
        if -eps <= d <= eps:
            return
        tid = track.track_id
        st = self.sides.get(tid)
        if st is None:
            # Even a sighting a filter rejected tells where the track started from.
            self.sides[tid] = [1.0 if d > 0.0 else -1.0, ax, ay, d]
            return
        side = st[0]
        if (d > 0.0) == (side > 0.0):
            st[1] = ax
            st[2] = ay
            st[3] = d
            return
        if not ok:
            return  # keep the old side: the crossing counts once the track passes its filters
        crossed = seg.crossed_within(st, ax, ay, d)
        st[0] = -side
        st[1] = ax
        st[2] = ay
        st[3] = d
        if not crossed:
            return
        if side > 0.0:
            if not self.wants_a_to_b:
                return
            direction, slot = CrossingDirection.A_TO_B, 0
        else:
            if not self.wants_b_to_a:
                return
            direction, slot = CrossingDirection.B_TO_A, 1
        ts = track.last_seen
        day = local_day(ts, self.tz)
        if day != self.day:
            self.day = day
            self.counts = [0, 0]
        self.counts[slot] += 1
        ctx.event(
            self, SensorEventKind.LINE_CROSS, track, ts,
            alertable=True, direction=direction, count=self.counts[slot],
        )  # fmt: skip

    def track_gone(self, ctx: RuleContext, track: Track, exit_ts: int) -> None:
        self.sides.pop(track.track_id, None)

    def reset(self, ctx: RuleContext, ts: int, seq: int) -> None:
        self.sides.clear()

    def state(self) -> list[Any]:
        return [[[k, *v] for k, v in self.sides.items()], self.day, self.counts]

    def load(self, state: list[Any]) -> None:
        sides, day, counts = state
        self.sides = {int(k): [float(v) for v in rest] for k, *rest in sides}
        self.day = int(day)
        self.counts = [int(c) for c in counts]


def check_direction(cfg: SensorConfig, fail: Fail) -> None:
    """The direction filter is a known symbol."""
    if cfg.direction is DirectionFilter.UNKNOWN:
        raise fail("direction", "unknown direction; allowed: both, a_to_b, b_to_a")


def check(cfg: SensorConfig, fail: Fail) -> None:
    """Two distinct points and a known direction filter."""
    check_segments(cfg, fail, 1, "a tripwire")
    check_direction(cfg, fail)


KIND = SensorKindSpec(
    SensorKind.TRIPWIRE,
    TripwireRule,
    check,
    fields=("direction",),
    summary="segment P0 P1 (+ direction): line crossings counted per direction",
)
