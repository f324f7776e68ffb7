"""One edge process: many cameras, one event spool + forwarder, one evidence store.

``EdgeRunner.run`` starts a worker thread per enabled camera and returns when every camera
has ended (finite sources: files without loop, synthetic scenes with a duration), when
``duration_s`` has passed, or when ``stop`` is set (SIGINT/SIGTERM in the CLI). It then waits
up to ``drain_timeout_s`` for the spools to be delivered and reports what happened. What
could not be delivered stays in the spool for the next run: a run with no cameras just
drains.

With a ``feed`` (``producers.fleet.feed.TopicCameras``: the cameras the cameras topic assigns
to this node) the cameras are not fixed: whenever the feed's set changes, the supervisor
starts, restarts or stops only the cameras that changed, and the run goes on until
``duration_s`` or ``stop`` (a node waits for new cameras when its own have ended).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from producers.camera import CameraStatus, CameraWorker
from producers.config import Camera
from producers.detectors.onnx import ModelPool
from producers.evidence_store import S3EvidenceStore
from producers.fleet.supervisor import CameraSupervisor, Worker
from producers.forwarder import KafkaForwarder
from producers.health import edge_heartbeats
from producers.metrics import EdgeMetrics
from producers.outbox import EventOutbox
from producers.settings import EdgeSettings
from producers.spool import Spool
from producers.spool_format import SpoolStats
from schemas.registry_access import RegistryResolver, registry_client
from vidsight.s3 import s3_client

log = logging.getLogger(__name__)


class CameraFeed(Protocol):
    """Where a node's cameras come from while it runs (``producers.fleet.feed.TopicCameras``)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def take(self) -> Mapping[str, Camera] | None: ...
    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RunReport:
    """The outcome of a run, for the CLI summary and tests."""

    cameras: tuple[CameraStatus, ...]
    events: SpoolStats
    evidence: SpoolStats | None
    delivered: int
    evidence_uploaded: int
    drained: bool
    elapsed_s: float
    config: str | None = None
    """Where the cameras came from with a feed (the topic, or the last known configuration)."""
    heartbeats: int = 0
    """Heartbeats spooled (on vidsight.health, delivered with the events)."""

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "cameras": [asdict(c) for c in self.cameras],
            "events": asdict(self.events),
            "evidence": None if self.evidence is None else asdict(self.evidence),
            "delivered": self.delivered,
            "evidence_uploaded": self.evidence_uploaded,
            "drained": self.drained,
            "elapsed_s": round(self.elapsed_s, 3),
            "config": self.config,
            "heartbeats": self.heartbeats,
        }

    @property
    def failed(self) -> tuple[CameraStatus, ...]:
        """Cameras that ended on an error."""
        return tuple(c for c in self.cameras if c.state == "failed")


class EdgeRunner:
    """Builds and runs the edge for a list of cameras."""

    def __init__(
        self,
        settings: EdgeSettings,
        cameras: Sequence[Camera] = (),
        metrics: EdgeMetrics | None = None,
        *,
        feed: CameraFeed | None = None,
    ) -> None:
        self.settings = settings
        self.cameras = [c for c in cameras if c.enabled]
        self.metrics = metrics or EdgeMetrics()
        self.feed = feed
        self.supervisor: CameraSupervisor | None = None

    @property
    def workers(self) -> list[Worker]:
        """The latest worker of every camera this run started (ended and stopped ones too)."""
        return [] if self.supervisor is None else self.supervisor.latest_workers

    def _spool(self, name: str, max_bytes: int) -> Spool:
        s = self.settings
        return Spool(
            s.spool_path / name,
            max_bytes=max_bytes,
            segment_bytes=s.spool_segment_bytes,
            fsync=s.spool_fsync,
            fsync_interval_s=s.spool_fsync_interval_s,
            name=name,
        )

    def run(
        self, *, duration_s: float | None = None, stop: threading.Event | None = None
    ) -> RunReport:
        """Run until the cameras end, the duration passes or ``stop`` is set; then drain."""
        s = self.settings
        stop = stop or threading.Event()
        started = time.monotonic()
        if s.metrics_port is not None:
            self.metrics.serve(s.metrics_port, s.metrics_host)
        events_spool = self._spool("events", s.spool_max_bytes)
        # A node's cameras may change: it keeps a store ready for recording cameras to come.
        recording = self.feed is not None or any(c.record.on for c in self.cameras)
        evidence_spool = (
            self._spool("evidence", s.evidence_spool_max_bytes) if s.evidence or recording else None
        )
        # Fail fast: the forwarder retries on its own, the client's retries only delay stops.
        client = registry_client(s, timeout=5, **{"max.retries": 0})
        resolver = RegistryResolver(s, auto_register=s.registry_auto_register, client=client)
        outbox = EventOutbox(events_spool, s.spool_path / "schemas")
        forwarder = KafkaForwarder(
            events_spool,
            s.kafka_client_config(**s.producer_config),
            resolver,
            outbox.stash,
            self.metrics,
            max_in_flight=s.publish_max_in_flight,
            idempotence=s.publish_idempotence,
        )
        store = None
        if evidence_spool is not None:
            store = S3EvidenceStore(
                s3_client(s, timeout_s=s.s3_timeout_s, path_style=True),
                s.s3_bucket,
                evidence_spool,
                self.metrics,
            )
            store.start()
        forwarder.start()
        pool = ModelPool()

        latest: dict[str, CameraWorker] = {}  # every camera's latest worker, for heartbeats

        def make_worker(cam: Camera, cam_stop: threading.Event) -> CameraWorker:
            worker = latest[cam.camera_id] = CameraWorker(
                cam,
                settings=s,
                outbox=outbox,
                evidence=store if s.evidence else None,
                metrics=self.metrics,
                pool=pool,
                stop=cam_stop,
                recordings=store,
            )
            return worker

        heartbeats = edge_heartbeats(
            s, outbox, lambda: tuple(latest.values()), events_spool, evidence_spool
        )
        heartbeats.start()
        supervisor = self.supervisor = CameraSupervisor(make_worker)
        feed = self.feed
        try:
            if feed is None:
                supervisor.apply({c.camera_id: c for c in self.cameras})
                log.info("edge running cameras=%d spool=%s", len(self.cameras), s.spool_path)
            else:
                feed.start()
                log.info("edge node=%s following the cameras topic", s.node_id)
            while not stop.is_set():
                if feed is not None:
                    desired = feed.take()
                    if desired is not None:
                        supervisor.apply(desired)
                elif supervisor.all_done():
                    break
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    break
                stop.wait(0.2)
        finally:
            if feed is not None:
                feed.stop()
            supervisor.stop_all()
            heartbeats.stop()  # the last round says stopped: a clean stop is not an outage
            drained = self._drain(forwarder, store)
            forwarder.stop()
            if store is not None:
                store.stop()
            resolver.close()
            report = RunReport(
                cameras=supervisor.statuses(),
                events=events_spool.stats(),
                evidence=evidence_spool.stats() if evidence_spool is not None else None,
                delivered=forwarder.acked,
                evidence_uploaded=store.uploaded if store is not None else 0,
                drained=drained,
                elapsed_s=time.monotonic() - started,
                config=None if feed is None else feed.describe(),
                heartbeats=heartbeats.sent,
            )
            events_spool.close()
            if evidence_spool is not None:
                evidence_spool.close()
        return report

    def _drain(self, forwarder: KafkaForwarder, store: S3EvidenceStore | None) -> bool:
        deadline = time.monotonic() + self.settings.drain_timeout_s
        while time.monotonic() < deadline:
            if forwarder.idle() and (store is None or store.idle()):
                return True
            time.sleep(0.05)
        pending = forwarder.spool.stats().pending_records
        log.warning(
            "drain timed out after %.0fs: %d events stay spooled for the next run",
            self.settings.drain_timeout_s,
            pending,
        )
        return forwarder.idle() and (store is None or store.idle())
