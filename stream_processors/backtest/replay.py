"""Recorded frames, detections and feedback through the pure rules core, as the processor
would have fed them. Pure: no I/O, no clock.

Order (what makes a replay of the sensors in force give the alerts that were emitted):

- Cameras are independent in the engine (state, groups and FP memory are per camera), so
  each camera is replayed on its own, one after the other.
- Within a camera, detections and frames are merged by ``(frame_ts, seq)``, a frame right
  after the detections of its own instant. That is the interleaving the runtime's
  ``FrameAligner`` (stream_processors/runtime/alignment.py) produces: a frame with objects
  waits for its detections and frames keep their order. The edge publishes a camera's
  records in ``(frame_ts, seq)`` order on one partition, so this is also partition-offset
  order per topic; sorting by it also merges several archive incarnations of a topic.
  Redeliveries (the same ``(frame_ts, seq)`` twice) are replayed once.
- Sensor definitions are applied before the first record, as the worker applies the
  sensors topic it reads at start-up.
- Feedback is applied before the camera's first record at or after the verdict's time
  (``Feedback.ts``). The worker applies a verdict when it reads it, between two batches, so
  live the verdict lands a little after ``ts`` in event time; a replay is exact for verdicts
  given outside the event-time span of the alerts they could change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from schemas.records import Alert, Detections, Feedback, FrameRef, SensorConfig, SensorEvent
from stream_processors.rules import Engine, EngineOptions

Record = Detections | FrameRef


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What one replay produced."""

    sensor_events: Mapping[str, int]
    """Sensor events by sensor id."""
    alerts: Mapping[str, Alert]
    """Every alert raised, by alert id: its last lifecycle message of the replay."""
    detections: int
    """Detections messages fed (after de-duplication)."""
    frames: int
    """FrameRef messages fed."""
    learned_fp: int
    """(object, sensor) evaluations the learned false-positive memory rejected."""


def by_camera(
    frames: Iterable[FrameRef], detections: Iterable[Detections]
) -> dict[str, list[Record]]:
    """Each camera's records in the order the processor applies them (module docstring)."""
    keyed: dict[str, dict[tuple[int, int, int], Record]] = {}
    for det in detections:
        keyed.setdefault(det.camera_id, {})[(det.frame_ts, det.seq, 0)] = det
    for frame in frames:
        keyed.setdefault(frame.camera_id, {})[(frame.frame_ts, frame.seq, 1)] = frame
    return {cam: [recs[k] for k in sorted(recs)] for cam, recs in sorted(keyed.items())}


def replay(
    sensors: Sequence[SensorConfig],
    records: Mapping[str, Sequence[Record]],
    feedback: Iterable[Feedback] = (),
    *,
    options: EngineOptions | None = None,
) -> ReplayResult:
    """Run each camera's ``records`` (from :func:`by_camera`) through a fresh engine."""
    engine = Engine(options)
    for cfg in sorted(sensors, key=lambda s: s.sensor_id):
        engine.on_sensor(cfg.sensor_id, cfg)
    verdicts: dict[str, list[Feedback]] = {}
    for fb in sorted(feedback, key=lambda f: (f.ts, f.feedback_id)):
        verdicts.setdefault(fb.camera_id, []).append(fb)
    events: dict[str, int] = {}
    alerts: dict[str, Alert] = {}
    n_det = n_frames = 0
    on_detections = engine.on_detections
    on_frame = engine.on_frame
    on_feedback = engine.on_feedback
    for camera_id, recs in records.items():
        pending = verdicts.get(camera_id, [])
        next_fb = 0
        for rec in recs:
            while next_fb < len(pending) and pending[next_fb].ts <= rec.frame_ts:
                on_feedback(pending[next_fb])
                next_fb += 1
            if isinstance(rec, Detections):
                n_det += 1
                outputs = on_detections(rec)
            else:
                n_frames += 1
                outputs = on_frame(rec)
            for out in outputs:
                if isinstance(out, SensorEvent):
                    events[out.sensor_id] = events.get(out.sensor_id, 0) + 1
                else:
                    alerts[out.alert_id] = out
        engine.forget(camera_id)  # the replay holds one camera's state at a time
    return ReplayResult(events, alerts, n_det, n_frames, engine.counters.learned_fp)
