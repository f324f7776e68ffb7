"""The ``zone`` sensor kind: per-track inside/outside with hysteresis, occupancy, dwell.

Hysteresis: an anchor closer than ``hysteresis`` to the polygon's edge never changes a
track's inside/outside state, so an object standing on the edge cannot flicker in and out.
"""

from __future__ import annotations

from typing import Any

from schemas.records import SensorConfig, SensorEventKind, SensorKind
from stream_processors.rules.base import Fail, Rule, RuleContext, SensorKindSpec
from stream_processors.rules.geometry import Polygon, as_coords
from stream_processors.rules.options import EngineOptions
from stream_processors.rules.shapes import check_polygon
from stream_processors.rules.tracks import Track


class ZoneRule(Rule):
    """Zone: zone_enter / zone_exit per track and the occupancy count."""

    __slots__ = (
        "eps",
        "inside",
        "occ_emitted",
        "occ_label",
        "occ_last_ts",
        "pending",
        "poly",
        "threshold",
    )

    def __init__(self, cfg: SensorConfig, opts: EngineOptions) -> None:
        super().__init__(cfg, opts)
        self.poly = Polygon.from_coords(as_coords(cfg.points))
        self.eps = opts.hysteresis
        self.threshold = cfg.occupancy_threshold
        self.occ_label = ",".join(cfg.labels) if cfg.labels else "*"
        self.inside: dict[int, int] = {}  # track -> entered ts
        self.occ_emitted = 0
        self.occ_last_ts = -1
        # (ts, count, score, seq, evidence) of an occupancy change not yet published: one
        # event per zone and instant, however many tracks moved at that instant.
        self.pending: tuple[int, int, float, int, str | None] | None = None

    def observe(self, ctx: RuleContext, track: Track, ax: float, ay: float, ok: bool) -> None:
        if not ok:
            return
        tid = track.track_id
        inside = self.inside
        was_in = tid in inside
        poly = self.poly
        if was_in == (
            poly.min_x <= ax <= poly.max_x
            and poly.min_y <= ay <= poly.max_y
            and poly.contains(ax, ay)
        ):
            return
        if poly.boundary_distance(ax, ay) <= self.eps:
            return
        ts = track.last_seen
        self._settle(ctx, ts)
        # A zone used for counting (threshold set) alerts on the count, not on each entry.
        if was_in:
            entered = inside.pop(tid)
            ctx.event(
                self, SensorEventKind.ZONE_EXIT, track, ts, alertable=False, dwell_us=ts - entered
            )
        else:
            inside[tid] = ts
            ctx.event(self, SensorEventKind.ZONE_ENTER, track, ts, alertable=self.threshold is None)
        self._changed(ctx, ts, track.last_seq, track.evidence_uri)

    def track_gone(self, ctx: RuleContext, track: Track, exit_ts: int) -> None:
        entered = self.inside.pop(track.track_id, None)
        if entered is None:
            return
        dwell = track.last_seen - entered
        self._settle(ctx, exit_ts)
        ctx.event(self, SensorEventKind.ZONE_EXIT, track, exit_ts, alertable=False, dwell_us=dwell)
        self._changed(ctx, exit_ts, track.last_seq, track.evidence_uri)

    def reset(self, ctx: RuleContext, ts: int, seq: int) -> None:
        if self.inside:
            self._settle(ctx, ts)
            self.inside.clear()
            self._changed(ctx, ts, seq, None)

    def _settle(self, ctx: RuleContext, ts: int) -> None:
        # A change at a new instant first publishes the occupancy of the previous one, so
        # occupancy events come in time order with the enters and exits around them.
        if self.pending is not None and self.pending[0] != ts:
            self.flush(ctx)

    def _changed(self, ctx: RuleContext, ts: int, seq: int, evidence_uri: str | None) -> None:
        if self.pending is None:
            ctx.mark_dirty(self)
        tracks = ctx.tracks
        score = max((tracks[t].score for t in self.inside), default=0.0)
        self.pending = (ts, len(self.inside), score, seq, evidence_uri)

    def flush(self, ctx: RuleContext) -> None:
        """Publish the pending occupancy change, if the count did change."""
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        ts, count, score, seq, evidence_uri = pending
        if count == self.occ_emitted:
            return
        # Occupancy events have no track id, so their ids differ only by time: keep their
        # times strictly increasing per zone (an exit revealed late could repeat an instant).
        if ts <= self.occ_last_ts:
            ts = self.occ_last_ts + 1
        self.occ_emitted = count
        self.occ_last_ts = ts
        ctx.occupancy(
            self, ts, seq=seq, evidence_uri=evidence_uri, label=self.occ_label,
            count=count, score=score, threshold=self.threshold,
        )  # fmt: skip

    def state(self) -> list[Any]:
        return [[[k, v] for k, v in self.inside.items()], self.occ_emitted, self.occ_last_ts]

    def load(self, state: list[Any]) -> None:
        inside, emitted, last_ts = state
        self.inside = {int(k): int(v) for k, v in inside}
        self.occ_emitted = int(emitted)
        self.occ_last_ts = int(last_ts)


def check(cfg: SensorConfig, fail: Fail) -> None:
    """A simple polygon; an occupancy threshold of at least one object."""
    check_polygon(cfg, fail)
    if cfg.occupancy_threshold is not None and cfg.occupancy_threshold < 1:
        raise fail("occupancy_threshold", f"must be at least 1, got {cfg.occupancy_threshold}")


KIND = SensorKindSpec(
    SensorKind.ZONE,
    ZoneRule,
    check,
    fields=("occupancy_threshold",),
    summary="polygon: zone_enter / zone_exit per track and the occupancy count",
)
