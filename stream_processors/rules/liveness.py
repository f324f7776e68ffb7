"""Video-loss and node-offline alerts from the edge heartbeats (vidsight.health); pure.

A stopped camera or a dead node produces no events, so these alerts cannot wait for event
time like the sensor rules: the watch is driven by the processor loop's clock (``now_s``,
monotonic) and ages what the heartbeats said without mixing clocks:

- a camera has lost its video when ``(hb.ts - last frame)`` at its latest heartbeat (both on
  the edge's clock) plus the time since that heartbeat arrived (the processor's clock) reaches
  its timeout: the ``seconds`` of the camera's ``video_loss`` sensor, else ``video_loss_s``.
  The alert opens (``new``) then, and ends when a heartbeat shows a newer frame, when the
  camera is stopped on purpose (removed, or its node shut down cleanly: ``stopped``), or when
  its video_loss sensor is disabled. ``start_ts`` is the last frame's time (or the first
  heartbeat's when no frame was ever seen), ``end_ts`` the time frames came back.
- a node is offline when none of its own heartbeats arrived for ``node_offline_s``; the alert
  ends with its next heartbeat. A node whose last heartbeat said ``stopped`` is not watched.

Replay safety: a heartbeat older than the timeout by the wall clock (``wall_us``) is history
(a replay, or one delivered late after an outage) and changes nothing, so reading old data
raises nothing; edges and processors need clocks synchronised well within the timeouts.
The alerts are ordinary Alert records (ids from :func:`schemas.records.alert_id` over camera,
sensor, start and kind, lifecycle new -> end with revisions), published, stored, shown and
given feedback like every other alert. The open alerts are state: ``snapshot_dirty`` gives
those that opened or ended since the last call for the changelog and ``restore`` loads them, so
the worker that takes a partition over (or a restarted one) ends an alert its predecessor
opened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from schemas.records import (
    Alert,
    AlertLifecycle,
    HealthState,
    Heartbeat,
    SensorEventKind,
    SensorKind,
    Severity,
    alert_id,
    node_key,
)
from schemas.records.health import NODE_KEY_PREFIX
from stream_processors.rules.options import US

VIDEO_LOSS_SENSOR = "video_loss"
"""sensor_id of a video_loss alert of a camera that has no video_loss sensor."""
NODE_OFFLINE_SENSOR = "node_offline"
"""sensor_id of every node_offline alert (its camera_id is ``node:<node_id>``)."""

STATE_PREFIX = "\x00liveness:"
"""Changelog key prefix of an open alert's state (no camera id starts with a NUL byte)."""

_NEVER = float("inf")


@dataclass(frozen=True, slots=True)
class LivenessOptions:
    """The default timeouts and the severity of alerts without a sensor of their own."""

    video_loss_s: float = 10.0
    node_offline_s: float = 30.0
    severity: Severity = Severity.HIGH

    def __post_init__(self) -> None:
        for name in ("video_loss_s", "node_offline_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")


@dataclass(frozen=True, slots=True)
class LossPolicy:
    """How a camera's video loss is alerted: sensor id, timeout and severity."""

    sensor_id: str
    seconds: float
    severity: Severity


Policy = Callable[[str], LossPolicy | None]
"""A camera's policy (None: no video-loss alerts for it), looked up at each heartbeat."""


class _Open:
    """An alert that is open."""

    __slots__ = ("alert_id", "revision", "sensor_id", "severity", "start_ts")

    def __init__(self, sensor_id: str, severity: Severity, start_ts: int, aid: str) -> None:
        self.sensor_id = sensor_id
        self.severity = severity
        self.start_ts = start_ts
        self.alert_id = aid
        self.revision = 0


class _Watch:
    """What the latest live heartbeat of one camera or node said, and its open alert."""

    __slots__ = ("armed", "due_s", "hb_us", "open", "partition", "policy", "since_us")

    def __init__(self, partition: int, since_us: int) -> None:
        self.partition = partition
        self.since_us = since_us  # last frame (cameras) or last heartbeat (nodes), edge clock
        self.hb_us = -1
        self.armed = False
        self.due_s = _NEVER
        self.policy: LossPolicy | None = None
        self.open: _Open | None = None


class LivenessWatch:
    """The video-loss and node-offline state of the keys of one worker's partitions."""

    def __init__(self, options: LivenessOptions, policy: Policy) -> None:
        self.options = options
        self._policy = policy
        self._node_policy = LossPolicy(
            NODE_OFFLINE_SENSOR, options.node_offline_s, options.severity
        )
        self._cameras: dict[str, _Watch] = {}
        self._nodes: dict[str, _Watch] = {}
        self._next_due = _NEVER
        self._open = 0
        self._dirty: set[str] = set()

    def default_policy(self, camera_id: str) -> LossPolicy:
        """The policy of a camera without a video_loss sensor."""
        return LossPolicy(VIDEO_LOSS_SENSOR, self.options.video_loss_s, self.options.severity)

    @property
    def watched(self) -> tuple[int, int]:
        """(cameras, nodes) being watched."""
        return len(self._cameras), len(self._nodes)

    @property
    def open_alerts(self) -> int:
        """Video-loss and node-offline alerts open now."""
        return self._open

    # -- inputs ----------------------------------------------------------------------------

    def on_heartbeat(
        self, hb: Heartbeat, partition: int, *, now_s: float, wall_us: int
    ) -> list[Alert]:
        """Take one heartbeat read from ``partition`` at ``now_s`` (wall clock ``wall_us``)."""
        if hb.camera_id is None:
            return self._on_node(hb, partition, now_s, wall_us)
        return self._on_camera(hb, hb.camera_id, partition, now_s, wall_us)

    def _on_camera(
        self, hb: Heartbeat, camera_id: str, partition: int, now_s: float, wall_us: int
    ) -> list[Alert]:
        policy = self._policy(camera_id)
        timeout_us = round((policy or self.default_policy(camera_id)).seconds * US)
        w = self._cameras.get(camera_id)
        if wall_us - hb.ts > timeout_us or (w is not None and hb.ts <= w.hb_us):
            return []  # history (replay, late delivery) or out of order
        if w is None:  # first sight: the loss counts from its last frame
            w = self._cameras[camera_id] = _Watch(partition, _frame_or(hb, hb.ts))
            w.armed = True
        out: list[Alert] = []
        w.partition = partition
        w.hb_us = hb.ts
        w.policy = policy
        frame = hb.last_frame_ts
        progressed = frame is not None and frame > w.since_us
        if hb.state is HealthState.STOPPED or policy is None:
            self._end(camera_id, w, SensorEventKind.VIDEO_LOSS, end_ts=hb.ts, at=hb.ts, out=out)
            w.armed, w.due_s = False, _NEVER
            if frame is not None:
                w.since_us = max(w.since_us, frame)
            return out
        if not w.armed:  # back after a stop: the loss counts from now, or a newer frame
            w.since_us = frame if progressed and frame is not None else hb.ts
            w.armed = True
        elif progressed:
            assert frame is not None
            w.since_us = frame
            self._end(camera_id, w, SensorEventKind.VIDEO_LOSS, end_ts=frame, at=hb.ts, out=out)
        age_s = (hb.ts - w.since_us) / US
        w.due_s = now_s + max(0.0, policy.seconds - age_s)
        self._next_due = min(self._next_due, w.due_s)
        return out

    def _on_node(self, hb: Heartbeat, partition: int, now_s: float, wall_us: int) -> list[Alert]:
        key = node_key(hb.node_id)
        w = self._nodes.get(key)
        if wall_us - hb.ts > round(self.options.node_offline_s * US) or (
            w is not None and hb.ts <= w.hb_us
        ):
            return []
        if w is None:
            w = self._nodes[key] = _Watch(partition, hb.ts)
        out: list[Alert] = []
        w.partition = partition
        w.hb_us = w.since_us = hb.ts
        w.policy = self._node_policy
        self._end(key, w, SensorEventKind.NODE_OFFLINE, end_ts=hb.ts, at=hb.ts, out=out)
        if hb.state is HealthState.STOPPED:
            w.armed, w.due_s = False, _NEVER
            return out
        w.armed = True
        w.due_s = now_s + self.options.node_offline_s
        self._next_due = min(self._next_due, w.due_s)
        return out

    def tick(self, now_s: float) -> list[Alert]:
        """Open the alerts whose timeout ran out by ``now_s``."""
        if now_s < self._next_due:
            return []
        out: list[Alert] = []
        next_due = _NEVER
        for watches, kind in (
            (self._cameras, SensorEventKind.VIDEO_LOSS),
            (self._nodes, SensorEventKind.NODE_OFFLINE),
        ):
            for key, w in watches.items():
                if not w.armed or w.open is not None:
                    continue
                if w.due_s <= now_s:
                    self._start(key, w, kind, out)
                elif w.due_s < next_due:
                    next_due = w.due_s
        self._next_due = next_due
        return out

    def release(self, partitions: Iterable[int]) -> None:
        """Forget the keys of partitions this worker no longer owns."""
        gone = set(partitions)
        for watches in (self._cameras, self._nodes):
            for key in [k for k, w in watches.items() if w.partition in gone]:
                self._open -= watches.pop(key).open is not None
                self._dirty.discard(key)  # its state stays for the partition's next owner

    # -- state ------------------------------------------------------------------------------

    def snapshot_dirty(self) -> list[tuple[str, int, bytes | None]]:
        """(key, partition, state) of every key whose alert opened or ended since the last
        call: the open alert as bytes, or None (a tombstone) once it ended."""
        out: list[tuple[str, int, bytes | None]] = []
        for key in sorted(self._dirty):
            w = self._cameras.get(key) or self._nodes.get(key)
            if w is None:
                continue
            a = w.open
            data = None
            if a is not None:
                state = [a.alert_id, a.sensor_id, a.severity.value, a.start_ts, a.revision]
                data = json.dumps(state, separators=(",", ":")).encode()
            out.append((key, w.partition, data))
        self._dirty.clear()
        return out

    def restore(self, key: str, partition: int, data: bytes) -> None:
        """Load an open alert from :meth:`snapshot_dirty` (a node's when ``key`` is one);
        the next heartbeat of its key ends it if its cause is gone.

        Raises ``ValueError`` on bytes it cannot read.
        """
        try:
            aid, sensor_id, severity, start_ts, revision = json.loads(data)
            opened = _Open(str(sensor_id), Severity(severity), int(start_ts), str(aid))
            opened.revision = int(revision)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"liveness state of {key!r} is unreadable: {exc}") from exc
        watches = self._nodes if key.startswith(NODE_KEY_PREFIX) else self._cameras
        previous = watches.get(key)
        if previous is not None and previous.open is not None:
            self._open -= 1
        w = watches[key] = _Watch(partition, opened.start_ts)
        w.armed = True
        w.open = opened
        self._open += 1

    # -- alerts ----------------------------------------------------------------------------

    def _start(self, key: str, w: _Watch, kind: SensorEventKind, out: list[Alert]) -> None:
        policy = w.policy
        assert policy is not None
        start = w.since_us
        self._open += 1
        self._dirty.add(key)
        w.open = _Open(
            policy.sensor_id, policy.severity, start, alert_id(key, policy.sensor_id, start, kind)
        )
        out.append(
            self._alert(
                key,
                w.open,
                kind,
                lifecycle=AlertLifecycle.NEW,
                updated_ts=start + _us(policy),
                end_ts=None,
            )
        )

    def _end(
        self, key: str, w: _Watch, kind: SensorEventKind, *, end_ts: int, at: int, out: list[Alert]
    ) -> None:
        if w.open is None:
            return
        opened, w.open = w.open, None
        self._open -= 1
        self._dirty.add(key)
        opened.revision += 1
        out.append(
            self._alert(
                key,
                opened,
                kind,
                lifecycle=AlertLifecycle.END,
                updated_ts=max(at, end_ts),
                end_ts=end_ts,
            )
        )

    @staticmethod
    def _alert(
        key: str,
        a: _Open,
        kind: SensorEventKind,
        *,
        lifecycle: AlertLifecycle,
        updated_ts: int,
        end_ts: int | None,
    ) -> Alert:
        rule = (
            SensorKind.VIDEO_LOSS if kind is SensorEventKind.VIDEO_LOSS else SensorKind.NODE_OFFLINE
        )
        return Alert(
            alert_id=a.alert_id,
            camera_id=key,
            sensor_id=a.sensor_id,
            kind=kind,
            rule=rule,
            lifecycle=lifecycle,
            revision=a.revision,
            severity=a.severity,
            label="video" if kind is SensorEventKind.VIDEO_LOSS else "node",
            top_score=1.0,
            start_ts=a.start_ts,
            end_ts=None if end_ts is None else max(end_ts, a.start_ts),
            updated_ts=updated_ts,
            event_count=1,
        )


def _frame_or(hb: Heartbeat, default: int) -> int:
    return hb.last_frame_ts if hb.last_frame_ts is not None else default


def _us(policy: LossPolicy) -> int:
    return round(policy.seconds * US)
