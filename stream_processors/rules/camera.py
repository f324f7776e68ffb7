"""One camera's rules and state: the detections hot path, event time, expiry, feedback.

Event time per camera:

- ``det_ts``/``det_seq``: the last Detections message processed. An older or equal one is a
  redelivery and is skipped, so at-least-once input gives each output once.
- ``watermark``: how far event time has got; moved by Detections (their frame time) and by
  FrameRef heartbeats (frame time minus ``frame_lag_s``). Alerts end and loiters fire when the
  watermark passes their exact instant, which is what the outputs carry.
- ``absence_ts``: the latest analysed frame, i.e. evidence of which tracks were *not* there.
  A track expires only with such evidence (an idle detector means nothing moved) once the
  watermark is ``track_ttl_s`` past its last sighting, or unconditionally when stale.

Filters per (object, sensor), in order, each counted when it rejects: label (not counted:
the sensor does not care about that label), min_score, median of the score history, inertia,
area, ratio, learned false positive. Objects outside every active area of interest are
dropped before any of that. Sensor events of stationary tracks are published but raise no
alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.records import Detections, Feedback, FrameRef, SensorConfig, Verdict
from stream_processors.rules.base import Rule, RuleContext
from stream_processors.rules.emit import Emitter, count_rejection
from stream_processors.rules.fpmemory import WILDCARD, AlertMemory, FalsePositiveMemory, box_of
from stream_processors.rules.grouping import AlertGrouper, Output
from stream_processors.rules.kinds import compile_rule
from stream_processors.rules.options import US, EngineOptions, SuppressionCounters
from stream_processors.rules.tracks import ParkedMemory, Track

_NEVER = 2**63 - 1
_Row = tuple[
    Rule,
    Callable[[RuleContext, Track, float, float, bool], None],
    float,
    float,
    int,
    float,
    float,
    float,
    float,
]


class Camera:
    """Rules and state of one camera; ``ctx`` is what its rules report to."""

    def __init__(self, camera_id: str, opts: EngineOptions, counters: SuppressionCounters) -> None:
        self.camera_id = camera_id
        self.opts = opts
        self.counters = counters
        self.rules: dict[str, Rule] = {}
        self.tracks: dict[int, Track] = {}
        self.parked = ParkedMemory(opts.parked_memory_size)
        self.fp = FalsePositiveMemory(opts.fp_memory_size)
        self.alerts = AlertMemory(opts.alert_memory_size)
        self.grouper = AlertGrouper(
            camera_id, self.alerts, opts.update_score_step, opts.update_every_events
        )
        self.det_ts = -1
        self.det_seq = -1
        self.watermark = -(2**62)
        self.absence_ts = -(2**62)
        self.msg_index = 0
        self.ctx = Emitter(camera_id, self.tracks, self.grouper, counters)
        # States restored before their sensor's definition arrived: sensor -> [fingerprint,
        # active, state], attached when a definition with the same geometry shows up.
        self.orphans: dict[str, list[Any]] = {}
        self._ttl_us = round(opts.track_ttl_s * US)
        self._stale_us = max(self._ttl_us, round(opts.track_stale_s * US))
        self._lag_us = round(opts.frame_lag_s * US)
        self._window_us = round(opts.stationary_window_s * US)
        self._parked_us = round(opts.parked_memory_s * US)
        self._expiry_check = _NEVER
        self._aois: tuple[Rule, ...] = ()
        self._evaluators: tuple[Rule, ...] = ()
        self._timed: tuple[Rule, ...] = ()
        self._scheduled: tuple[Rule, ...] = ()
        self._by_label: dict[str, tuple[_Row, ...]] = {}

    # -- configuration ---------------------------------------------------------------------

    def set_rule(self, sensor_id: str, cfg: SensorConfig | None, out: list[Output]) -> None:
        """Add, redefine (``cfg``) or remove (``None`` or disabled) one sensor."""
        ctx = self.ctx
        ctx.out = out
        old = self.rules.pop(sensor_id, None)
        new = None if cfg is None or not cfg.enabled else compile_rule(cfg, self.opts)
        carried: list[Any] | None = None
        if old is not None:
            carried = [old.fingerprint(), old.active, old.state()]
        elif sensor_id in self.orphans:
            carried = self.orphans.pop(sensor_id)
        if new is not None and carried is not None and carried[0] == new.fingerprint():
            new.load(carried[2])
            new.active = bool(carried[1])
        elif old is not None:
            # Gone or moved: its tracks' memberships and open alerts were about another area.
            old.reset(ctx, self.watermark, self.det_seq)
            old.flush(ctx)
            self.grouper.end_sensor(sensor_id, max(self.watermark, 0), out)
        if new is not None:
            self.rules[sensor_id] = new
        self._reindex()

    def _reindex(self) -> None:
        ordered = [self.rules[k] for k in sorted(self.rules)]  # replay order = id order
        self._aois = tuple(r for r in ordered if r.area_filter)
        self._evaluators = tuple(r for r in ordered if not r.area_filter)
        self._timed = tuple(r for r in self._evaluators if r.needs_timers)
        self._scheduled = tuple(r for r in ordered if r.schedule is not None)
        self._by_label = {}

    def reload(self) -> None:
        """Recompute what derives from the state (after a restore)."""
        self._reindex()
        self.ctx.dirty = []
        first = min((t.last_seen for t in self.tracks.values()), default=None)
        self._expiry_check = _NEVER if first is None else first + self._ttl_us

    def _rules_for(self, label: str) -> tuple[_Row, ...]:
        # One row per sensor that looks at the label, with its filter bounds unpacked so the
        # hot loop reads locals instead of attributes.
        rows = tuple(
            (r, r.observe, r.min_score, r.median_thr, r.inertia,
             r.min_area, r.max_area, r.min_ratio, r.max_ratio)
            for r in self._evaluators
            if r.labels is None or label in r.labels
        )  # fmt: skip
        self._by_label[label] = rows
        return rows

    # -- inputs ----------------------------------------------------------------------------

    def on_detections(self, det: Detections) -> list[Output]:
        """Run one analysed frame's objects through the rules."""
        ts = det.frame_ts
        seq = det.seq
        if ts < self.det_ts or (ts == self.det_ts and seq <= self.det_seq):
            self.counters.duplicate += 1
            return []
        self.det_ts = ts
        self.det_seq = seq
        ctx = self.ctx
        out = ctx.out = []
        self.msg_index += 1
        if self._scheduled:
            self._refresh_schedules(ts, seq)
        self._advance(ts)
        self._observe(det, ts, seq)
        self.absence_ts = max(self.absence_ts, ts)
        if ctx.dirty:
            ctx.flush_zones()
        return out

    def _observe(self, det: Detections, ts: int, seq: int) -> None:
        ctx = self.ctx
        tracks = self.tracks
        counters = self.counters
        aois = self._aois
        by_label = self._by_label
        fp = self.fp
        opts = self.opts
        msg_index = self.msg_index
        evidence = det.evidence_uri
        history = opts.score_history
        s_iou = opts.stationary_iou
        window = self._window_us
        for obj in det.objects:
            b = obj.bbox
            x1 = b.x1
            y1 = b.y1
            x2 = b.x2
            y2 = b.y2
            ax = (x1 + x2) * 0.5
            if aois and not self._in_aoi(ax, y2):
                counters.aoi += 1
                continue
            label = obj.label
            score = obj.score
            tid = obj.track_id
            track = tracks.get(tid)
            if track is None:
                track = tracks[tid] = Track(tid, label, history)
                track.observe(
                    msg_index, ts, seq, evidence, label, score, x1, y1, x2, y2, s_iou, window
                )
                if self.parked and self.parked.claim(label, (x1, y1, x2, y2), ts, s_iou):
                    track.park_inherited(ts, window)
                self._expiry_check = min(self._expiry_check, ts + self._ttl_us)
            else:
                track.observe(
                    msg_index, ts, seq, evidence, label, score, x1, y1, x2, y2, s_iou, window
                )
            rows = by_label.get(label)
            if rows is None:
                rows = self._rules_for(label)
            if not rows:
                continue
            is_fp = track.fp = bool(fp) and fp.matches(label, (x1, y1, x2, y2), opts.fp_iou)
            median = track.median
            streak = track.streak
            w = x2 - x1
            h = y2 - y1
            area = w * h
            ratio = w / h if h > 0.0 else float("inf")
            for r, observe, min_score, median_thr, inertia, a_lo, a_hi, r_lo, r_hi in rows:
                if not r.active:
                    continue
                if (
                    score >= min_score
                    and median >= median_thr
                    and streak >= inertia
                    and a_lo <= area <= a_hi
                    and r_lo <= ratio <= r_hi
                    and not is_fp
                ):
                    observe(ctx, track, ax, y2, True)
                else:
                    count_rejection(
                        counters,
                        r,
                        score=score,
                        median=median,
                        streak=streak,
                        area=area,
                        ratio=ratio,
                    )
                    observe(ctx, track, ax, y2, False)

    def _in_aoi(self, x: float, y: float) -> bool:
        any_active = False
        for aoi in self._aois:
            if aoi.active:
                if aoi.admits(x, y):
                    return True
                any_active = True
        return not any_active  # no active area of interest restricts nothing

    def on_frame(self, frame: FrameRef) -> list[Output]:
        """Heartbeat: move event time on (lagged), learn absence from an empty analysed frame."""
        ts = frame.frame_ts
        out: list[Output] = []
        if frame.analysed and frame.object_count == 0 and ts > self.absence_ts:
            self.absence_ts = ts
        return self.advance(ts - self._lag_us, frame.seq, out)

    def advance(self, ts: int, seq: int = -1, out: list[Output] | None = None) -> list[Output]:
        """Move event time to ``ts``: fire due loiters, expire tracks, end quiet groups."""
        ctx = self.ctx
        out = ctx.out = [] if out is None else out
        if ts > self.watermark and self._scheduled:
            self._refresh_schedules(ts, self.det_seq if seq < 0 else seq)
        self._advance(ts)
        if ctx.dirty:
            ctx.flush_zones()
        return out

    def _advance(self, ts: int) -> None:
        self.watermark = max(self.watermark, ts)
        w = self.watermark
        ctx = self.ctx
        if w >= self._expiry_check:
            self._expire(w)
            if ctx.dirty:
                ctx.flush_zones()  # occupancy of the exits before what later instants cause
        for timed in self._timed:
            if w >= timed.next_due:
                timed.due(ctx, w)
        self.grouper.close_due(w, ctx.out)

    def _expire(self, w: int) -> None:
        ttl = self._ttl_us
        stale = self._stale_us
        absence = self.absence_ts
        gone: list[tuple[int, Track]] = []
        next_check = _NEVER
        for track in self.tracks.values():
            seen = track.last_seen
            if seen < absence and seen + ttl <= w:
                gone.append((seen + ttl, track))
            elif seen + stale <= w:
                gone.append((seen + stale, track))
            elif seen + ttl < next_check:
                next_check = seen + ttl
        self._expiry_check = next_check
        gone.sort(key=lambda g: g[0])  # stable: equal times keep first-seen order
        for exit_ts, track in gone:
            for r in self._evaluators:
                r.track_gone(self.ctx, track, exit_ts)
            if track.stationary:
                self.parked.remember(track, exit_ts + self._parked_us)
            del self.tracks[track.track_id]

    def _refresh_schedules(self, ts: int, seq: int) -> None:
        for r in self._scheduled:
            assert r.schedule is not None
            active = r.schedule.is_active(ts)
            if active != r.active:
                r.active = active
                if not active:
                    r.reset(self.ctx, ts, seq)

    def on_feedback(self, feedback: Feedback) -> None:
        """Learn (or unlearn) a false positive from an operator's verdict."""
        remembered = self.alerts.get(feedback.alert_id)
        if feedback.label is not None:
            label = feedback.label
        else:
            label = WILDCARD if remembered is None else remembered[0]
        if feedback.boxes:
            boxes = tuple(box_of(b) for b in feedback.boxes)
        elif remembered is not None and remembered[1] is not None:
            boxes = (remembered[1],)
        else:
            boxes = ()
        if feedback.verdict is Verdict.FALSE_POSITIVE and not boxes:
            self.counters.feedback_unresolved += 1
        self.fp.apply(feedback, label, boxes)
