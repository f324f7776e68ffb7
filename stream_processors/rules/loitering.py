"""The ``loitering`` sensor kind: an object stays inside a polygon longer than N seconds."""

from __future__ import annotations

from typing import Any

from schemas.records import SensorConfig, SensorEventKind, SensorKind
from stream_processors.rules.base import NEVER, Fail, Rule, RuleContext, SensorKindSpec
from stream_processors.rules.geometry import Polygon, as_coords
from stream_processors.rules.options import US, EngineOptions
from stream_processors.rules.shapes import check_polygon, check_positive
from stream_processors.rules.tracks import Track


class LoiterRule(Rule):
    """Loitering: a track inside the polygon for ``seconds`` fires once per stay.

    The event's time is exactly entered + seconds, fired when event time reaches it while the
    track is still inside (believed inside until an observation or its expiry says otherwise).

    Standing still is what loitering is about, so a track that stops after walking in still
    alerts; only a stay that *began* stationary (a parked object re-detected under a new track
    id) raises no alert: that object did not arrive, it was already there.
    """

    needs_timers = True

    __slots__ = ("eps", "poly", "seconds_us", "stays")

    def __init__(self, cfg: SensorConfig, opts: EngineOptions) -> None:
        super().__init__(cfg, opts)
        self.poly = Polygon.from_coords(as_coords(cfg.points))
        self.eps = opts.hysteresis
        self.seconds_us = round((cfg.seconds or 0.0) * US)
        # track -> [entered ts, fired 0/1, stationary when entering 0/1]
        self.stays: dict[int, list[int]] = {}
        self.next_due = NEVER

    def observe(self, ctx: RuleContext, track: Track, ax: float, ay: float, ok: bool) -> None:
        if not ok:
            return
        tid = track.track_id
        stays = self.stays
        was_in = tid in stays
        poly = self.poly
        if was_in == (
            poly.min_x <= ax <= poly.max_x
            and poly.min_y <= ay <= poly.max_y
            and poly.contains(ax, ay)
        ):
            return
        if poly.boundary_distance(ax, ay) <= self.eps:
            return
        if was_in:
            del stays[tid]
        else:
            ts = track.last_seen
            stays[tid] = [ts, 0, int(track.stationary)]
            self.next_due = min(self.next_due, ts + self.seconds_us)

    def due(self, ctx: RuleContext, watermark: int) -> None:
        if watermark < self.next_due:
            return
        next_due = NEVER
        tracks = ctx.tracks
        for tid, stay in self.stays.items():
            if stay[1]:
                continue
            at = stay[0] + self.seconds_us
            if at <= watermark:
                self._fire(ctx, tracks[tid], stay)
            elif at < next_due:
                next_due = at
        self.next_due = next_due

    def track_gone(self, ctx: RuleContext, track: Track, exit_ts: int) -> None:
        stay = self.stays.pop(track.track_id, None)
        if stay is not None and not stay[1] and stay[0] + self.seconds_us <= exit_ts:
            self._fire(ctx, track, stay)

    def _fire(self, ctx: RuleContext, track: Track, stay: list[int]) -> None:
        stay[1] = 1
        ctx.event(
            self,
            SensorEventKind.LOITER,
            track,
            stay[0] + self.seconds_us,
            alertable=True,
            dwell_us=self.seconds_us,
            stationary=bool(stay[2]),
        )

    def reset(self, ctx: RuleContext, ts: int, seq: int) -> None:
        self.stays.clear()
        self.next_due = NEVER

    def state(self) -> list[Any]:
        return [[k, *v] for k, v in self.stays.items()]

    def load(self, state: list[Any]) -> None:
        self.stays = {int(k): [int(v) for v in rest] for k, *rest in state}
        self.next_due = min(
            (v[0] + self.seconds_us for v in self.stays.values() if not v[1]), default=NEVER
        )


def check(cfg: SensorConfig, fail: Fail) -> None:
    """A simple polygon and the seconds inside before it fires."""
    check_polygon(cfg, fail)
    if cfg.seconds is None:
        raise fail("seconds", "a loitering sensor needs seconds (time inside before it fires)")
    check_positive(fail, "seconds", cfg.seconds, "seconds")


KIND = SensorKindSpec(
    SensorKind.LOITERING,
    LoiterRule,
    check,
    fields=("seconds",),
    summary="polygon + seconds: an object stays inside longer than that",
)
