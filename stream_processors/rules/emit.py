"""What a camera's rules report to: sensor events built, alertable ones grouped into alerts.

``Emitter`` is the rules' ``RuleContext``. Stationary tracks' events are published but not
grouped (they raise no alert); occupancy events hold their zone's alert open while the count
is at or above the zone's threshold.
"""

from __future__ import annotations

from schemas.records import (
    BBox,
    CrossingDirection,
    Point,
    SensorEvent,
    SensorEventKind,
    sensor_event_id,
)
from stream_processors.rules.base import Rule
from stream_processors.rules.grouping import AlertGrouper, Output
from stream_processors.rules.options import US, SuppressionCounters
from stream_processors.rules.tracks import Track


class Emitter:
    """Builds one camera's output records; ``out`` is the list of the current step."""

    __slots__ = ("camera_id", "counters", "dirty", "grouper", "out", "tracks")

    def __init__(
        self,
        camera_id: str,
        tracks: dict[int, Track],
        grouper: AlertGrouper,
        counters: SuppressionCounters,
    ) -> None:
        self.camera_id = camera_id
        self.tracks = tracks
        self.grouper = grouper
        self.counters = counters
        self.out: list[Output] = []
        self.dirty: list[Rule] = []

    def flush_zones(self) -> None:
        """Publish what rules held back in this step (zones: their occupancy changes)."""
        dirty = self.dirty
        self.dirty = []
        for rule in dirty:
            rule.flush(self)

    def event(
        self,
        rule: Rule,
        kind: SensorEventKind,
        track: Track,
        ts: int,
        *,
        alertable: bool,
        direction: CrossingDirection | None = None,
        count: int | None = None,
        dwell_us: int | None = None,
        stationary: bool | None = None,
        speed_kmh: float | None = None,
    ) -> None:
        """Publish one sensor event about a track and group it when it may alert."""
        x1, y1, x2, y2 = track.x1, track.y1, track.x2, track.y2
        event = SensorEvent(
            event_id=sensor_event_id(
                self.camera_id, rule.sensor_id, kind.value, ts, track.track_id,
                direction=None if direction is None else direction.value,
            ),
            camera_id=self.camera_id,
            sensor_id=rule.sensor_id,
            kind=kind,
            direction=direction,
            track_id=track.track_id,
            label=track.label,
            score=track.score,
            ts=ts,
            count=count,
            dwell_s=None if dwell_us is None else dwell_us / US,
            anchor=Point((x1 + x2) * 0.5, y2),
            bbox=BBox(x1, y1, x2, y2),
            frame_seq=track.last_seq,
            evidence_uri=track.evidence_uri,
            speed_kmh=speed_kmh,
        )  # fmt: skip
        self.out.append(event)
        if not alertable:
            return
        if track.stationary if stationary is None else stationary:
            self.counters.stationary += 1
            return
        self.grouper.feed(event, rule.kind, rule.severity, rule.gap_us, self.out)

    def occupancy(
        self,
        rule: Rule,
        ts: int,
        *,
        seq: int,
        evidence_uri: str | None,
        label: str,
        count: int,
        score: float,
        threshold: int | None,
    ) -> None:
        """Publish an area's occupancy; hold an alert open while it is at/above ``threshold``."""
        event = SensorEvent(
            event_id=sensor_event_id(self.camera_id, rule.sensor_id, "occupancy", ts, None),
            camera_id=self.camera_id,
            sensor_id=rule.sensor_id,
            kind=SensorEventKind.OCCUPANCY,
            label=label,
            score=score,
            ts=ts,
            count=count,
            frame_seq=seq,
            evidence_uri=evidence_uri,
        )
        self.out.append(event)
        if threshold is None:
            return
        if count >= threshold:
            self.grouper.feed(event, rule.kind, rule.severity, rule.gap_us, self.out).held = True
            return
        group = self.grouper.get(rule.sensor_id, SensorEventKind.OCCUPANCY)
        if group is not None and group.held:
            self.grouper.release(group, ts)

    def mark_dirty(self, rule: Rule) -> None:
        """Flush the rule (a zone's pending occupancy) at the end of this step."""
        self.dirty.append(rule)


def count_rejection(
    counters: SuppressionCounters,
    r: Rule,
    *,
    score: float,
    median: float,
    streak: int,
    area: float,
    ratio: float,
) -> None:
    """Count the first filter, in the documented order, that rejected a sighting."""
    if score < r.min_score:
        counters.min_score += 1
    elif median < r.median_thr:
        counters.median_score += 1
    elif streak < r.inertia:
        counters.inertia += 1
    elif not r.min_area <= area <= r.max_area:
        counters.area += 1
    elif not r.min_ratio <= ratio <= r.max_ratio:
        counters.ratio += 1
    else:
        counters.learned_fp += 1
