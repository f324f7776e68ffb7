"""One camera's worker thread: source -> pipeline -> outbox, isolated from the others.

Every failure stays inside the worker: a source that cannot be opened, a detector that
cannot be built or crashes, a stream that keeps dropping. The worker records the error in
its ``CameraStatus`` (and the logs and metrics, with the camera id) and ends; the other
cameras' threads never wait on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from producers.config import Camera
from producers.credentials import resolve_login
from producers.detectors.base import Detector
from producers.detectors.factory import build_detector, split_options
from producers.detectors.ground_truth import GroundTruthOptions
from producers.detectors.motion import MotionOptions
from producers.detectors.onnx import ModelPool
from producers.errors import EvidenceError
from producers.evidence import EvidenceSink
from producers.frames import Frame
from producers.imaging import encode_jpeg
from producers.metrics import EdgeMetrics
from producers.motion import GateCounts, GateOptions, MotionConfig, MotionGate
from producers.outbox import EventOutbox
from producers.pipeline import CameraPipeline, PipelineOptions
from producers.recording.recorder import CameraRecorder, RecordingStore
from producers.sampling import Sampler
from producers.settings import EdgeSettings
from producers.sources.backoff import BackoffPolicy
from producers.sources.base import SourceContext
from producers.sources.factory import open_source, parse_source
from producers.tracking import Tracker
from schemas.records import RecordingSegment
from vidsight.errors import VidsightError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CameraStatus:
    """What a camera is doing; updated by its worker thread, read by anyone."""

    camera_id: str
    source: str
    state: str = "starting"  # starting | running | reconnecting | finished | stopped | failed
    error: str | None = None
    frames_decoded: int = 0
    frames_sampled: int = 0
    frames_analysed: int = 0
    objects: int = 0
    events: int = 0
    reconnects: int = 0
    motion_warmups: int = 0
    lighting_events: int = 0
    ghosts_absorbed: int = 0
    detector: str = ""
    segments: int = 0
    decode_errors: int = 0
    detector_s: float = 0.0
    """Detector time summed over the analysed frames (heartbeats report the mean)."""
    last_frame_us: int | None = None
    """Wall-clock time the last frame was decoded, UTC microseconds."""
    started_s: float = field(default_factory=time.monotonic)
    """Monotonic time the worker was created (heartbeat rates start there)."""

    @property
    def done(self) -> bool:
        """True once the worker has ended."""
        return self.state in ("finished", "stopped", "failed")


class CameraWorker:
    """Runs one camera in its own thread."""

    def __init__(
        self,
        camera: Camera,
        *,
        settings: EdgeSettings,
        outbox: EventOutbox,
        evidence: EvidenceSink | None,
        metrics: EdgeMetrics,
        pool: ModelPool,
        stop: threading.Event,
        recordings: RecordingStore | None = None,
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.outbox = outbox
        self.evidence = evidence
        self.metrics = metrics
        self.pool = pool
        self.stop = stop
        self.recordings = recordings
        self.recorder: CameraRecorder | None = None
        self.status = CameraStatus(camera.camera_id, camera.source)
        self._gate: MotionGate | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"camera-{camera.camera_id}", daemon=True
        )

    def start(self) -> None:
        """Start the worker thread."""
        self.thread.start()

    def _context(self) -> SourceContext:
        s = self.settings
        cam = self.camera.camera_id
        reconnects = self.metrics.reconnects.labels(cam)
        up = self.metrics.camera_up.labels(cam)

        def on_reconnect(message: str) -> None:
            self.status.reconnects += 1
            self.status.state = "reconnecting"
            self.status.error = message
            reconnects.inc()
            up.set(0)
            if self._gate is not None:  # the view may differ: learn it again
                self._gate.reset()

        def on_decode_error(_: str) -> None:
            self.status.decode_errors += 1

        def on_connected(_: str) -> None:
            self.status.state = "running"
            self.status.error = None
            up.set(1)

        return SourceContext(
            camera_id=cam,
            fps=self.camera.fps,
            stop=self.stop,
            backoff=BackoffPolicy(
                initial_s=s.reconnect_initial_s,
                max_s=max(s.reconnect_max_s, s.reconnect_initial_s),
                max_attempts=s.reconnect_max_attempts,
            ),
            open_timeout_s=s.open_timeout_s,
            read_timeout_s=s.read_timeout_s,
            stall_timeout_s=s.stall_timeout_s,
            decoder_threads=s.decoder_threads,
            keyframe_only=s.keyframe_only,
            on_reconnect=on_reconnect,
            on_connected=on_connected,
            on_decode_error=on_decode_error,
            packets=self.recorder,
        )

    def _pipeline(
        self,
        detector: Detector,
        gate_on: bool,
        gate_options: GateOptions,
        evidence_on: bool,
        work_width: int,
    ) -> CameraPipeline:
        s = self.settings
        base = MotionConfig(
            work_width=work_width,
            threshold=s.motion_threshold,
            noise_k=s.motion_noise_k,
            min_area=s.motion_min_area,
            warmup_s=s.motion_warmup_s,
            absorb_s=s.motion_absorb_s,
            step_absorb_s=s.motion_step_absorb_s,
            lighting_share=s.motion_lighting_share,
        )
        gate = self._gate = MotionGate(gate_options.apply(base))
        return CameraPipeline(
            PipelineOptions(
                camera_id=self.camera.camera_id,
                gate=gate_on,
                evidence=evidence_on and self.evidence is not None,
                evidence_min_interval_s=s.evidence_min_interval_s,
                jpeg_quality=s.evidence_jpeg_quality,
            ),
            sampler=Sampler(self.camera.fps),
            gate=gate,
            detector=detector,
            tracker_factory=lambda first_id: Tracker(first_id=first_id),
            evidence=self.evidence,
            encode_jpeg=encode_jpeg,
        )

    def _run(self) -> None:
        cam = self.camera
        st = self.status
        detector: Detector | None = None
        try:
            common, plugin = split_options(cam.detector_kind, cam.detector_options)
            detector = build_detector(cam.detector_kind, plugin, self.pool)
            st.detector = detector.model
            width = self.settings.motion_work_width
            if isinstance(plugin, MotionOptions):
                width = max(width, plugin.resolution)
            gate_on = common.gate
            if gate_on is None:  # the truth should not depend on pixels changing
                gate_on = not isinstance(plugin, GroundTruthOptions)
            pipeline = self._pipeline(detector, gate_on, common, common.evidence, width)
            login = resolve_login(cam.camera_id, cam.credentials)
            self.recorder = self._recorder()
            source = open_source(parse_source(cam.source), self._context(), login)
            self._loop(pipeline, source.frames())
            st.state = "stopped" if self.stop.is_set() else "finished"
            log.info("camera=%s state=%s frames=%d", cam.camera_id, st.state, st.frames_decoded)
        except VidsightError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a bug in a plugin must not take the process down
            log.exception("camera=%s crashed", cam.camera_id)
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            self.metrics.camera_up.labels(cam.camera_id).set(0)
            if detector is not None:
                detector.close()

    def _recorder(self) -> CameraRecorder | None:
        spec = self.camera.record
        if not spec.on:
            return None
        if self.recordings is None:
            raise EvidenceError(f"camera {self.camera.camera_id}: recording needs an S3 store")
        recorder = CameraRecorder(
            self.camera.camera_id,
            spec,
            self.settings.spool_path / "recordings" / self.camera.camera_id,
            self.recordings,
            self._publish_segment,
        )
        recorder.recover()
        return recorder

    def _publish_segment(self, segment: RecordingSegment) -> None:
        self.outbox.publish_recording(segment)
        self.status.segments += 1

    def _loop(self, pipeline: CameraPipeline, frames: Iterator[Frame]) -> None:
        cam = self.camera.camera_id
        st = self.status
        m = self.metrics
        decoded = m.frames_decoded.labels(cam)
        sampled = m.frames_sampled.labels(cam)
        analysed = m.frames_analysed.labels(cam)
        latency = m.detector_latency.labels(pipeline.detector.model)
        m.camera_up.labels(cam).set(1)
        st.state = "running"
        gate_counts = pipeline.gate.counts
        seen = GateCounts()
        for frame in frames:
            if self.stop.is_set():
                break
            st.frames_decoded += 1
            st.last_frame_us = time.time_ns() // 1000
            decoded.inc()
            outcome = pipeline.process(frame)
            if outcome is None:
                continue
            st.frames_sampled += 1
            sampled.inc()
            if gate_counts != seen:
                seen = self._count_gate(gate_counts, seen)
            if outcome.detector_s is not None:
                st.frames_analysed += 1
                st.detector_s += outcome.detector_s
                analysed.inc()
                latency.observe(outcome.detector_s)
            if outcome.detections is not None:
                if self.recorder is not None:
                    self.recorder.activity(frame.ts_us)
                st.objects += len(outcome.detections.objects)
                for obj in outcome.detections.objects:
                    m.detections.labels(cam, obj.label).inc()
            st.events += self.outbox.publish(outcome)

    def _count_gate(self, now: GateCounts, seen: GateCounts) -> GateCounts:
        """Report what the motion gate dealt with since ``seen``; returns a copy of ``now``."""
        cam = self.camera.camera_id
        st, m = self.status, self.metrics
        st.motion_warmups = now.warmups
        st.lighting_events = now.lighting_events
        st.ghosts_absorbed = now.ghosts_absorbed
        m.motion_warmups.labels(cam).inc(now.warmups - seen.warmups)
        m.motion_lighting_events.labels(cam).inc(now.lighting_events - seen.lighting_events)
        m.motion_ghosts_absorbed.labels(cam).inc(now.ghosts_absorbed - seen.ghosts_absorbed)
        return replace(now)

    def _fail(self, message: str) -> None:
        st = self.status
        st.state = "failed"
        st.error = message
        self.metrics.camera_errors.labels(self.camera.camera_id).inc()
        log.error("camera=%s failed: %s", self.camera.camera_id, message)
