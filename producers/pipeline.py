"""The per-camera pipeline: sample -> motion gate -> detector -> tracker -> evidence -> events.

No I/O of its own: the detector, the evidence sink and the JPEG encoder are injected, and the
result of each sampled frame is returned for the caller to publish. One instance per camera,
fed frames in order from one thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from producers.detectors.base import Detector
from producers.evidence import EvidenceRef, EvidenceSink
from producers.frames import Frame, Image
from producers.motion import MotionGate
from producers.sampling import Sampler
from producers.tracking import Tracker
from schemas.records import DetectedObject, Detections, FrameRef
from schemas.records.ids import detections_event_id, frame_event_id


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineOptions:
    """Per-camera switches of the pipeline."""

    camera_id: str
    gate: bool = True
    evidence: bool = True
    evidence_min_interval_s: float = 0.0
    jpeg_quality: int = 85


@dataclass(frozen=True, slots=True)
class FrameOutcome:
    """What one sampled frame produced: its FrameRef, Detections when objects were found."""

    frame: FrameRef
    detections: Detections | None
    detector_s: float | None
    evidence: EvidenceRef | None


class CameraPipeline:
    """State of one camera's analysis: sampler, gate, tracks, frame sequence."""

    def __init__(
        self,
        options: PipelineOptions,
        *,
        sampler: Sampler,
        gate: MotionGate,
        detector: Detector,
        tracker_factory: Callable[[int], Tracker],
        evidence: EvidenceSink | None,
        encode_jpeg: Callable[[Image, int], bytes],
    ) -> None:
        self.options = options
        self.sampler = sampler
        self.gate = gate
        self.detector = detector
        self._tracker_factory = tracker_factory
        self._tracker: Tracker | None = None
        self._identity_base: int | None = None
        self._evidence = evidence if options.evidence else None
        self._encode = encode_jpeg
        self._last_evidence_s: float | None = None
        self.seq = 0

    def process(self, frame: Frame) -> FrameOutcome | None:
        """Analyse a frame if the sampler keeps it; None for frames it skips."""
        if not self.sampler.keep(frame.pts_s):
            return None
        opts = self.options
        seq = self.seq
        self.seq += 1
        motion = self.gate.update(frame.luma(), frame.pts_s)
        analysed = motion.moving or not opts.gate
        objects: tuple[DetectedObject, ...] = ()
        detector_s = None
        if analysed:
            started = time.perf_counter()
            found = self.detector.detect(frame, motion)
            detector_s = time.perf_counter() - started
            if self._identity_base is None:
                self._identity_base = frame.ts_us
            if found and all(d.identity is not None for d in found):
                # A detector's own identities restart with the source (a scene's object ids
                # do): offset by this session's first analysed frame time, like the tracker's
                # ids, so a restarted camera's objects are never taken for the old ones.
                base = self._identity_base
                objects = tuple(
                    DetectedObject(
                        track_id=base + (d.identity or 0), label=d.label, score=d.score, bbox=d.bbox
                    )
                    for d in found
                )
            else:
                if self._tracker is None:
                    # Ids start at the first analysed frame's time in micros: unique across
                    # restarts of the same camera without any state to persist.
                    self._tracker = self._tracker_factory(frame.ts_us)
                objects = tuple(self._tracker.update(found, frame.pts_s))
        ref = self._keep_evidence(frame) if objects else None
        camera = opts.camera_id
        frame_ref = FrameRef(
            event_id=frame_event_id(camera, frame.ts_us, seq),
            camera_id=camera,
            frame_ts=frame.ts_us,
            seq=seq,
            width=frame.width,
            height=frame.height,
            motion_score=motion.score,
            analysed=analysed,
            object_count=len(objects),
            evidence_uri=ref.uri if ref else None,
            evidence_bytes=ref.size if ref else None,
            evidence_sha256=ref.sha256 if ref else None,
        )
        detections = None
        if objects:
            detections = Detections(
                event_id=detections_event_id(camera, frame.ts_us, seq),
                camera_id=camera,
                frame_ts=frame.ts_us,
                seq=seq,
                model=self.detector.model,
                objects=objects,
                evidence_uri=ref.uri if ref else None,
            )
        return FrameOutcome(frame_ref, detections, detector_s, ref)

    def _keep_evidence(self, frame: Frame) -> EvidenceRef | None:
        if self._evidence is None:
            return None
        last = self._last_evidence_s
        if last is not None and frame.pts_s - last < self.options.evidence_min_interval_s:
            return None
        self._last_evidence_s = frame.pts_s
        jpeg = self._encode(frame.bgr(), self.options.jpeg_quality)
        return self._evidence.put(self.options.camera_id, frame.ts_us, jpeg)
