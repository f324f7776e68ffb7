"""Time grouping: sensor events become alerts with a new -> update -> end lifecycle.

One open group per (sensor, event kind) and camera. Rules, all in event time:

- ``new``: the first alertable event of a sensor/kind with no open group opens one; the
  alert id is UUIDv5 over (camera, sensor, start ts, kind), so a replay issues the same id.
- ``update``: after an event joins, when the top score rose by at least
  ``update_score_step`` over the top score last published, or ``update_every_events`` events
  joined since the last published message. That bounds the update rate on busy sensors
  while a better image or a burst of activity still reaches operators.
- ``end``: once event time reaches last event + the sensor's ``group_gap_s`` (an event at
  exactly that time starts a new group). ``end_ts`` is the last event's time and
  ``updated_ts`` the instant the gap ran out, whichever message revealed it, so outputs do
  not depend on how frames and detections interleave. A *held* group (a zone whose occupancy
  is at or above its threshold) does not end while held.

Every message carries the group's full state and a revision (0 for new, +1 per message).
"""

from __future__ import annotations

from typing import Any

from schemas.records import (
    Alert,
    AlertLifecycle,
    BBox,
    CrossingDirection,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Severity,
    alert_id,
)
from stream_processors.rules.fpmemory import AlertMemory, box_of

Output = SensorEvent | Alert
"""What the rules emit: sensor events and alert lifecycle messages."""

_SEP = "\x1f"
_NEVER = 2**63 - 1


class Group:
    """One open alert."""

    __slots__ = (
        "alert_id",
        "bbox",
        "direction",
        "event_count",
        "evidence_uri",
        "gap_us",
        "held",
        "kind",
        "label",
        "last_ts",
        "published_top",
        "revision",
        "rule",
        "sensor_id",
        "severity",
        "since_publish",
        "start_ts",
        "top_score",
        "track_ids",
    )

    def __init__(
        self, camera_id: str, event: SensorEvent, rule: SensorKind, severity: Severity, gap_us: int
    ) -> None:
        self.sensor_id = event.sensor_id
        self.kind = event.kind
        self.rule = rule
        self.severity = severity
        self.gap_us = gap_us
        self.start_ts = event.ts
        self.alert_id = alert_id(camera_id, event.sensor_id, event.ts, event.kind.value)
        self.last_ts = event.ts
        self.top_score = event.score
        self.published_top = event.score
        self.label = event.label
        self.evidence_uri = event.evidence_uri
        self.bbox: BBox | None = event.bbox
        self.direction: CrossingDirection | None = event.direction
        self.track_ids: list[int] = [] if event.track_id is None else [event.track_id]
        self.event_count = 1
        self.since_publish = 0
        self.revision = 0
        self.held = False

    def absorb(self, event: SensorEvent) -> None:
        """Join one more event to the group."""
        self.event_count += 1
        self.since_publish += 1
        self.last_ts = max(self.last_ts, event.ts)
        tid = event.track_id
        if tid is not None and tid not in self.track_ids:
            self.track_ids.append(tid)
        if event.score > self.top_score:
            # The best-scoring event is the best evidence of what the alert is about.
            self.top_score = event.score
            self.label = event.label
            self.evidence_uri = event.evidence_uri
            self.bbox = event.bbox
            self.direction = event.direction

    def to_state(self) -> list[Any]:
        """JSON-able state."""
        b = self.bbox
        return [
            self.alert_id, self.sensor_id, self.kind.value, self.rule.value, self.severity.value,
            self.gap_us, self.start_ts, self.last_ts, self.top_score, self.published_top,
            self.label, self.evidence_uri, None if b is None else list(box_of(b)),
            None if self.direction is None else self.direction.value, self.track_ids,
            self.event_count, self.since_publish, self.revision, self.held,
        ]  # fmt: skip

    @classmethod
    def from_state(cls, state: list[Any]) -> Group:
        """Rebuild from :meth:`to_state`."""
        g = cls.__new__(cls)
        (g.alert_id, g.sensor_id, kind, rule, severity, g.gap_us, g.start_ts, g.last_ts,
         g.top_score, g.published_top, g.label, g.evidence_uri, bbox, direction, track_ids,
         g.event_count, g.since_publish, g.revision, g.held) = state  # fmt: skip
        g.kind = SensorEventKind(kind)
        g.rule = SensorKind(rule)
        g.severity = Severity(severity)
        g.bbox = None if bbox is None else BBox(*(float(v) for v in bbox))
        g.direction = None if direction is None else CrossingDirection(direction)
        g.track_ids = [int(t) for t in track_ids]
        return g


class AlertGrouper:
    """The open groups of one camera."""

    __slots__ = ("_camera_id", "_every", "_memory", "_next_close", "_step", "groups")

    def __init__(
        self, camera_id: str, memory: AlertMemory, score_step: float, every_events: int
    ) -> None:
        self._camera_id = camera_id
        self._memory = memory
        self._step = score_step
        self._every = every_events
        self.groups: dict[str, Group] = {}
        self._next_close = _NEVER

    def feed(
        self,
        event: SensorEvent,
        rule: SensorKind,
        severity: Severity,
        gap_us: int,
        out: list[Output],
    ) -> Group:
        """Group one alertable event; append the alert messages it causes to ``out``."""
        key = event.sensor_id + _SEP + event.kind
        groups = self.groups
        group = groups.get(key)
        if group is not None and not group.held and event.ts >= group.last_ts + group.gap_us:
            del groups[key]
            out.append(self._message(group, AlertLifecycle.END, group.last_ts + group.gap_us))
            group = None
        if group is None:
            group = Group(self._camera_id, event, rule, severity, gap_us)
            groups[key] = group
            out.append(self._message(group, AlertLifecycle.NEW, event.ts))
        else:
            group.absorb(event)
            if (
                group.top_score >= group.published_top + self._step
                or group.since_publish >= self._every
            ):
                out.append(self._message(group, AlertLifecycle.UPDATE, event.ts))
        end = group.last_ts + group.gap_us
        self._next_close = min(self._next_close, end)
        return group

    def get(self, sensor_id: str, kind: SensorEventKind) -> Group | None:
        """The open group of a sensor and kind."""
        return self.groups.get(sensor_id + _SEP + kind)

    def release(self, group: Group, ts: int) -> None:
        """Stop holding a group: its gap runs from ``ts``."""
        group.held = False
        group.last_ts = max(group.last_ts, ts)
        self._next_close = min(self._next_close, group.last_ts + group.gap_us)

    def close_due(self, watermark: int, out: list[Output]) -> None:
        """End every group whose gap ran out at or before ``watermark``."""
        if watermark < self._next_close:
            return
        next_close = _NEVER
        for key, group in list(self.groups.items()):
            if group.held:
                continue
            end = group.last_ts + group.gap_us
            if end <= watermark:
                del self.groups[key]
                out.append(self._message(group, AlertLifecycle.END, end))
            elif end < next_close:
                next_close = end
        self._next_close = next_close

    def end_sensor(self, sensor_id: str, ts: int, out: list[Output]) -> None:
        """End the open groups of a sensor that was deleted, disabled or redefined."""
        for key, group in list(self.groups.items()):
            if group.sensor_id == sensor_id:
                del self.groups[key]
                out.append(self._message(group, AlertLifecycle.END, max(ts, group.last_ts)))

    def _message(self, g: Group, lifecycle: AlertLifecycle, updated_ts: int) -> Alert:
        if lifecycle is not AlertLifecycle.NEW:
            g.revision += 1
        g.published_top = g.top_score
        g.since_publish = 0
        alert = Alert(
            alert_id=g.alert_id,
            camera_id=self._camera_id,
            sensor_id=g.sensor_id,
            kind=g.kind,
            rule=g.rule,
            lifecycle=lifecycle,
            revision=g.revision,
            severity=g.severity,
            label=g.label,
            top_score=g.top_score,
            start_ts=g.start_ts,
            end_ts=g.last_ts if lifecycle is AlertLifecycle.END else None,
            updated_ts=updated_ts,
            evidence_uri=g.evidence_uri,
            track_ids=tuple(g.track_ids),
            event_count=g.event_count,
            direction=g.direction,
            bbox=g.bbox,
        )
        self._memory.remember(g.alert_id, g.label, None if g.bbox is None else box_of(g.bbox))
        return alert

    def to_state(self) -> list[Any]:
        """JSON-able state of the open groups, in opening order."""
        return [[key, g.to_state()] for key, g in self.groups.items()]

    def load_state(self, state: list[Any]) -> None:
        """Replace the open groups with :meth:`to_state` output."""
        self.groups = {str(key): Group.from_state(g) for key, g in state}
        self._next_close = min(
            (g.last_ts + g.gap_us for g in self.groups.values() if not g.held), default=_NEVER
        )
