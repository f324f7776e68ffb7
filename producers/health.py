"""Heartbeats of an edge node and its cameras (topic ``vidsight.health``).

``HealthReporter`` turns the cameras' ``CameraStatus`` counters into ``Heartbeat`` records
(pure: the clocks are arguments): rates are differences since the camera's previous heartbeat,
so they say what the camera does now, not since it started. ``HeartbeatPublisher`` is the
thread that asks for them every ``heartbeat_interval_s`` and spools them with the events,
so they reach the broker through the same store-and-forward path (one delivered late after an
outage is history for ClickHouse; the processor ignores stale ones for its alerts). On a clean
stop it sends a last round with every camera and the node ``stopped``: a node that ends that
way is not reported offline, one that is killed is.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from producers.camera import CameraStatus, CameraWorker
from producers.outbox import EventOutbox
from producers.settings import EdgeSettings
from producers.spool import Spool
from producers.spool_format import SpoolStats
from schemas.records import HealthState, Heartbeat, heartbeat_id

log = logging.getLogger(__name__)

_STATES = {
    "starting": HealthState.RECONNECTING,  # no frame yet: the source is being opened
    "running": HealthState.STREAMING,
    "reconnecting": HealthState.RECONNECTING,
    "finished": HealthState.STOPPED,
    "stopped": HealthState.STOPPED,
    "failed": HealthState.FAILED,
}


def camera_state(state: str) -> HealthState:
    """The heartbeat state of a ``CameraStatus.state``."""
    return _STATES.get(state, HealthState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class _Sample:
    """A camera's counters when its previous heartbeat was taken."""

    at_s: float
    decoded: int
    analysed: int
    detected: int
    detector_s: float


@dataclass(frozen=True, slots=True)
class CameraView:
    """What the reporter needs of a running camera: its status and configured fps."""

    status: CameraStatus
    fps: float


@dataclass(frozen=True, slots=True)
class NodeFigures:
    """The node's own figures: its event spool and its evidence upload backlog."""

    events: SpoolStats
    evidence: SpoolStats | None


class HealthReporter:
    """Builds the heartbeats of one node; keeps each camera's previous counters for rates."""

    STOPPED_ROUNDS = 3
    """Rounds a stopped camera is still reported in, so its last state gets through; after
    that it is left out (a camera moved to another node must not flap between two states)."""

    def __init__(self, node_id: str, site: str | None, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"heartbeat interval must be > 0 seconds, got {interval_s}")
        self.node_id = node_id
        self.site = site
        self.interval_s = interval_s
        self._previous: dict[str, _Sample] = {}
        self._stopped_rounds: dict[str, int] = {}

    def camera(
        self, view: CameraView, *, now_us: int, now_s: float, stopping: bool = False
    ) -> Heartbeat:
        """The heartbeat of one camera at wall-clock ``now_us`` / monotonic ``now_s``."""
        st = view.status
        prev = self._previous.get(st.camera_id) or _Sample(st.started_s, 0, 0, 0, 0.0)
        span = max(now_s - prev.at_s, 1e-6)
        detected = st.frames_analysed - prev.detected
        latency = None
        if detected > 0:
            latency = (st.detector_s - prev.detector_s) / detected * 1000.0
        self._previous[st.camera_id] = _Sample(
            now_s, st.frames_decoded, st.frames_sampled, st.frames_analysed, st.detector_s
        )
        state = HealthState.STOPPED if stopping else camera_state(st.state)
        return Heartbeat(
            heartbeat_id=heartbeat_id(self.node_id, st.camera_id, now_us),
            node_id=self.node_id,
            site=self.site,
            camera_id=st.camera_id,
            state=state,
            configured_fps=view.fps,
            decoded_fps=max(0.0, (st.frames_decoded - prev.decoded) / span),
            analysed_fps=max(0.0, (st.frames_sampled - prev.analysed) / span),
            frames_decoded=st.frames_decoded,
            frames_analysed=st.frames_sampled,
            decode_errors=st.decode_errors,
            reconnects=st.reconnects,
            last_frame_ts=st.last_frame_us,
            detector_latency_ms=latency,
            error=st.error if state in (HealthState.RECONNECTING, HealthState.FAILED) else None,
            interval_s=self.interval_s,
            ts=now_us,
        )

    def node(
        self,
        cameras: Sequence[Heartbeat],
        figures: NodeFigures,
        *,
        now_us: int,
        stopping: bool = False,
    ) -> Heartbeat:
        """The node's own heartbeat: its cameras summed, plus its spools."""
        last = [c.last_frame_ts for c in cameras if c.last_frame_ts is not None]
        latencies = [c.detector_latency_ms for c in cameras if c.detector_latency_ms is not None]
        evidence = figures.evidence
        return Heartbeat(
            heartbeat_id=heartbeat_id(self.node_id, None, now_us),
            node_id=self.node_id,
            site=self.site,
            camera_id=None,
            state=HealthState.STOPPED if stopping else HealthState.STREAMING,
            decoded_fps=sum(c.decoded_fps for c in cameras),
            analysed_fps=sum(c.analysed_fps for c in cameras),
            frames_decoded=sum(c.frames_decoded for c in cameras),
            frames_analysed=sum(c.frames_analysed for c in cameras),
            decode_errors=sum(c.decode_errors for c in cameras),
            reconnects=sum(c.reconnects for c in cameras),
            last_frame_ts=max(last) if last else None,
            detector_latency_ms=max(latencies) if latencies else None,
            spool_depth=figures.events.pending_records,
            spool_evictions=figures.events.evicted_records,
            evidence_backlog=0 if evidence is None else evidence.pending_records,
            interval_s=self.interval_s,
            ts=now_us,
        )

    def forget(self, camera_id: str) -> None:
        """Drop a camera that no longer runs here."""
        self._previous.pop(camera_id, None)

    def round(
        self,
        views: Sequence[CameraView],
        figures: NodeFigures,
        *,
        now_us: int,
        now_s: float,
        stopping: bool = False,
    ) -> list[Heartbeat]:
        """One heartbeat per camera (a stopped one for a few rounds only), then the node's."""
        reported = []
        for v in views:
            cid = v.status.camera_id
            if camera_state(v.status.state) is HealthState.STOPPED and not stopping:
                n = self._stopped_rounds[cid] = self._stopped_rounds.get(cid, 0) + 1
                if n > self.STOPPED_ROUNDS:
                    continue
            else:
                self._stopped_rounds.pop(cid, None)
            reported.append(v)
        beats = [self.camera(v, now_us=now_us, now_s=now_s, stopping=stopping) for v in reported]
        live = {v.status.camera_id for v in views}
        for gone in set(self._previous) - live:
            self.forget(gone)
        for gone in set(self._stopped_rounds) - live:
            del self._stopped_rounds[gone]
        beats.append(self.node(beats, figures, now_us=now_us, stopping=stopping))
        return beats


class HeartbeatPublisher:
    """The thread that spools a round of heartbeats every interval, and a last one on stop."""

    def __init__(
        self,
        reporter: HealthReporter,
        cameras: Callable[[], Sequence[CameraView]],
        figures: Callable[[], NodeFigures],
        publish: Callable[[Heartbeat], None],
    ) -> None:
        self.reporter = reporter
        self._cameras = cameras
        self._figures = figures
        self._publish = publish
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)

    def start(self) -> None:
        """Send the first round now, then one every interval."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and send the last round (every camera and the node stopped)."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._send(stopping=True)

    def _run(self) -> None:
        while True:
            try:
                self._send(stopping=False)
            except Exception:  # health must never take the edge down
                log.exception("heartbeat round failed")
            if self._stop.wait(self.reporter.interval_s):
                return

    def _send(self, *, stopping: bool) -> None:
        beats = self.reporter.round(
            self._cameras(),
            self._figures(),
            now_us=time.time_ns() // 1000,
            now_s=time.monotonic(),
            stopping=stopping,
        )
        for beat in beats:
            self._publish(beat)
        self.sent += len(beats)


def node_id_of(settings: EdgeSettings) -> str:
    """The node id heartbeats carry: ``node_id``, else the host name."""
    return settings.node_id or socket.gethostname()


def edge_heartbeats(
    settings: EdgeSettings,
    outbox: EventOutbox,
    workers: Callable[[], Sequence[CameraWorker]],
    events: Spool,
    evidence: Spool | None,
) -> HeartbeatPublisher:
    """The heartbeat publisher of an edge run: ``workers`` gives the latest worker of every
    camera run so far (a stopped camera is reported stopped a few rounds, then left out)."""

    def views() -> list[CameraView]:
        return [CameraView(w.status, w.camera.fps) for w in workers()]

    def figures() -> NodeFigures:
        return NodeFigures(events.stats(), None if evidence is None else evidence.stats())

    reporter = HealthReporter(node_id_of(settings), settings.site, settings.heartbeat_interval_s)
    return HeartbeatPublisher(reporter, views, figures, outbox.publish_heartbeat)
