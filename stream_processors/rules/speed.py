"""The ``speed`` sensor kind: speed between two lines a known distance apart.

A track that crosses line 1 (points P0 P1) and then line 2 (points P2 P3) within
``max_seconds`` passed the measured stretch: its speed is ``distance_m`` over the time between
the two crossings, in km/h. ``direction`` picks which passages count: ``a_to_b`` is line 1
then line 2, ``b_to_a`` line 2 then line 1, ``both`` either. Every passage is a ``speed``
sensor event (speed, direction, seconds between the lines in ``dwell_s``); one faster than
``speed_kmh_threshold`` also raises an alert, grouped and filtered like every other kind.

Crossings follow the tripwire's rules (hysteresis band, within each segment's extent, a
crossing counts once the track passes its filters). The crossing instants are interpolated
between the two sightings on either side of a line, so the measured time does not depend on
where the analysed frames fall.
"""

from __future__ import annotations

from typing import Any

from schemas.records import (
    CrossingDirection,
    DirectionFilter,
    SensorConfig,
    SensorEventKind,
    SensorKind,
)
from stream_processors.rules.base import Fail, Rule, RuleContext, SensorKindSpec
from stream_processors.rules.geometry import Segment, as_coords, segments_intersect
from stream_processors.rules.options import US, EngineOptions
from stream_processors.rules.shapes import check_positive, check_segments
from stream_processors.rules.tracks import Track
from stream_processors.rules.tripwire import check_direction

DEFAULT_MAX_SECONDS = 30.0
"""Most seconds between the two crossings when ``max_seconds`` is not set."""
MS_TO_KMH = 3.6

_NONE = -1  # no pending crossing


class SpeedRule(Rule):
    """Speed over the stretch between two lines.

    Per track: for each line, the last position clearly on one side ([side, x, y, signed
    distance] as a tripwire keeps it) and when it was seen there; and the pending crossing
    (which line, when) that a crossing of the other line completes.
    """

    __slots__ = ("distance_m", "eps", "lines", "max_us", "passages", "threshold", "wants")

    def __init__(self, cfg: SensorConfig, opts: EngineOptions) -> None:
        super().__init__(cfg, opts)
        coords = as_coords(cfg.points)
        self.lines = (Segment.from_coords(coords[0:2]), Segment.from_coords(coords[2:4]))
        self.eps = opts.hysteresis
        self.distance_m = cfg.distance_m or 0.0
        self.threshold = cfg.speed_kmh_threshold
        max_s = DEFAULT_MAX_SECONDS if cfg.max_seconds is None else cfg.max_seconds
        self.max_us = max_s * US
        # wants[first line crossed]: line 1 first is a_to_b, line 2 first is b_to_a.
        self.wants = (
            cfg.direction in (DirectionFilter.BOTH, DirectionFilter.A_TO_B),
            cfg.direction in (DirectionFilter.BOTH, DirectionFilter.B_TO_A),
        )
        # track -> [line 1 side state | None, line 2 side state | None, seen-at of line 1
        # state, seen-at of line 2 state, pending line (0, 1 or -1), pending crossing time]
        self.passages: dict[int, list[Any]] = {}

    def observe(self, ctx: RuleContext, track: Track, ax: float, ay: float, ok: bool) -> None:
        tid = track.track_id
        st = self.passages.get(tid)
        if st is None:
            st = self.passages[tid] = [None, None, 0, 0, _NONE, 0.0]
        t = track.last_seen
        eps = self.eps
        crossings: list[tuple[float, int]] = []
        for i, seg in enumerate(self.lines):
            d = seg.signed_distance(ax, ay)
            if -eps <= d <= eps:
                continue
            side = st[i]
            if side is None or (d > 0.0) == (side[0] > 0.0):
                # First clear sighting, or still on the same side: remember where and when.
                st[i] = [1.0 if d > 0.0 else -1.0, ax, ay, d]
                st[2 + i] = t
                continue
            if not ok:
                continue  # keep the old side: the crossing counts once the track passes
            crossed = seg.crossed_within(side, ax, ay, d)
            seen = st[2 + i]
            dq = side[3]
            at = seen + dq / (dq - d) * (t - seen)  # where the straight move meets the line
            st[i] = [-side[0], ax, ay, d]
            st[2 + i] = t
            if crossed:
                crossings.append((at, i))
        for at, i in sorted(crossings):
            self._crossed(ctx, track, st, i, at)

    def _crossed(self, ctx: RuleContext, track: Track, st: list[Any], line: int, at: float) -> None:
        first, since = st[4], st[5]
        if first != 1 - line or not 0.0 < at - since <= self.max_us:
            st[4] = line  # the start of a passage (or of a new one: the old one timed out)
            st[5] = at
            return
        st[4] = _NONE
        if not self.wants[first]:
            return
        elapsed_us = at - since
        speed_kmh = self.distance_m / (elapsed_us / US) * MS_TO_KMH
        threshold = self.threshold
        ctx.event(
            self, SensorEventKind.SPEED, track, track.last_seen,
            alertable=threshold is not None and speed_kmh > threshold,
            direction=CrossingDirection.A_TO_B if first == 0 else CrossingDirection.B_TO_A,
            dwell_us=round(elapsed_us), speed_kmh=speed_kmh,
        )  # fmt: skip

    def track_gone(self, ctx: RuleContext, track: Track, exit_ts: int) -> None:
        self.passages.pop(track.track_id, None)

    def reset(self, ctx: RuleContext, ts: int, seq: int) -> None:
        self.passages.clear()

    def state(self) -> list[Any]:
        return [[k, *v] for k, v in self.passages.items()]

    def load(self, state: list[Any]) -> None:
        def side(v: Any) -> list[float] | None:
            return None if v is None else [float(c) for c in v]

        self.passages = {
            int(k): [side(a), side(b), int(ta), int(tb), int(first), float(since)]
            for k, a, b, ta, tb, first, since in state
        }


def check(cfg: SensorConfig, fail: Fail) -> None:
    """Two separate lines, a distance, optional threshold and time bound, a direction."""
    check_segments(cfg, fail, 2, "a speed sensor (line 1 P0 P1, then line 2 P0 P1)")
    c = as_coords(cfg.points)
    if segments_intersect(c[0], c[1], c[2], c[3]):
        raise fail("points", "line 1 and line 2 meet; a speed sensor needs two separate lines")
    check_direction(cfg, fail)
    if cfg.distance_m is None:
        raise fail("distance_m", "a speed sensor needs distance_m (metres from line 1 to line 2)")
    check_positive(fail, "distance_m", cfg.distance_m, "metres")
    check_positive(fail, "speed_kmh_threshold", cfg.speed_kmh_threshold, "km/h")
    check_positive(fail, "max_seconds", cfg.max_seconds, "seconds")


KIND = SensorKindSpec(
    SensorKind.SPEED,
    SpeedRule,
    check,
    fields=("direction", "distance_m", "speed_kmh_threshold", "max_seconds"),
    summary="two lines + distance_m: speed of each passage, alert above speed_kmh_threshold",
)
