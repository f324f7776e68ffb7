"""Engine-wide tuning (one frozen object) and the suppression counters the runtime exports."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from stream_processors.errors import OptionsError

US = 1_000_000
"""Microseconds per second: event times are int microseconds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineOptions:
    """Tuning shared by every camera of an engine; per-sensor settings live in SensorConfig."""

    hysteresis: float = 0.005
    """Normalised distance band around tripwires and zone edges: an anchor inside it never
    changes a track's side or inside/outside state, so jitter on the line cannot double count."""
    track_ttl_s: float = 3.0
    """A track missing from analysed frames for this long (event time) is gone: it leaves its
    zones (zone_exit at last_seen + ttl) and its per-sensor state is dropped."""
    track_stale_s: float = 300.0
    """A track not seen for this long is dropped even without an analysed frame proving it
    absent (a camera whose detector stays idle), so state cannot grow without bound."""
    frame_lag_s: float = 2.0
    """FrameRef heartbeats move a camera's clock to frame_ts minus this. Frames and detections
    are different topics with no ordering between them, so a detections message may arrive
    after a later frame; the lag keeps its group open and its track alive. Outputs carry exact
    event times (group end = last event + gap), so the lag delays emission, not values."""
    score_history: int = 15
    """Scores kept per track for the median threshold."""
    median_threshold: float | None = None
    """Deployment-wide threshold on the median of a track's score history, for sensors whose
    ``score_threshold`` is null; None uses each such sensor's min_score."""
    stationary_iou: float = 0.9
    """A box overlapping its reference box at least this much has not moved."""
    stationary_window_s: float = 30.0
    """A track that has not moved for this long is stationary: its events raise no alerts."""
    parked_memory_s: float = 600.0
    """How long the box of a stationary track that got lost is remembered, so the same parked
    object re-detected under a new track id is stationary at once instead of re-alerting."""
    parked_memory_size: int = 64
    """Most remembered parked boxes per camera."""
    fp_iou: float = 0.6
    """A detection overlapping a box an operator marked false positive at least this much is
    suppressed."""
    fp_memory_size: int = 256
    """Most false-positive verdicts remembered per camera (oldest verdicts dropped first)."""
    alert_memory_size: int = 512
    """Most recent alerts per camera remembered (label and box) to resolve feedback verdicts."""
    update_score_step: float = 0.05
    """An open alert publishes ``update`` when its top score rises this much above the top score
    of its last published message..."""
    update_every_events: int = 10
    """...or when this many sensor events joined it since its last published message."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise OptionsError(f"{f.name}: must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise OptionsError(f"{f.name}: must be a finite number >= 0, got {value}")
        for name in ("score_history", "update_every_events", "fp_memory_size", "alert_memory_size"):
            if getattr(self, name) < 1:
                raise OptionsError(f"{name}: must be at least 1, got {getattr(self, name)}")
        for name in ("stationary_iou", "fp_iou"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise OptionsError(f"{name}: must be within (0, 1], got {getattr(self, name)}")
        if self.median_threshold is not None and self.median_threshold > 1.0:
            raise OptionsError(
                f"median_threshold: must be within 0..1, got {self.median_threshold}"
            )


@dataclass(slots=True)
class SuppressionCounters:
    """Why detections and events did not become sensor events or alerts, counted by reason.

    Object-level reasons are counted once per (object, sensor) evaluation, so one detection
    rejected by three sensors counts three times: the figure answers "how much work did each
    filter stop", which is what tuning a filter needs.
    """

    aoi: int = 0
    """Objects whose anchor is outside every active area of interest of the camera."""
    min_score: int = 0
    """Per-frame score below the sensor's min_score."""
    median_score: int = 0
    """Median of the track's score history below the threshold."""
    inertia: int = 0
    """Track not yet seen in the sensor's inertia_frames consecutive analysed frames."""
    area: int = 0
    """Box area outside the sensor's min_area..max_area."""
    ratio: int = 0
    """Box width/height outside the sensor's min_ratio..max_ratio."""
    learned_fp: int = 0
    """Box similar to one an operator marked false positive (same camera and label)."""
    stationary: int = 0
    """Sensor events of stationary tracks, which raise no alerts."""
    duplicate: int = 0
    """Detections messages at or before the camera's last processed frame (redelivery)."""
    feedback_unresolved: int = 0
    """False-positive verdicts with no boxes about an alert this engine does not remember."""

    def as_dict(self) -> dict[str, int]:
        """Counter values by reason, for the metrics exporter."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def reset(self) -> None:
        """Set every counter back to zero."""
        for f in fields(self):
            setattr(self, f.name, 0)
