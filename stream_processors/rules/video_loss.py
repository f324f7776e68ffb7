"""The ``video_loss`` sensor kind: a camera's own video-loss timeout, severity and switch.

Video loss is not judged on detections: the processor's liveness watch (``liveness.py``)
raises a ``video_loss`` alert when a camera's heartbeats show no new frame for N seconds.
N is the processor's ``video_loss_s`` unless the camera has a ``video_loss`` sensor: then its
``seconds``, its ``severity`` and its id (the alert's sensor_id) apply, and a disabled one
turns video-loss alerts off for that camera. The sensor has no geometry (``points: []``) and
looks at no object, so it costs the detections path nothing.
"""

from __future__ import annotations

from schemas.records import SensorConfig, SensorKind
from stream_processors.rules.base import Fail, Rule, SensorKindSpec
from stream_processors.rules.options import EngineOptions
from stream_processors.rules.shapes import check_positive


class VideoLossRule(Rule):
    """Holds the definition only: no object reaches it (an empty label filter)."""

    __slots__ = ()

    def __init__(self, cfg: SensorConfig, opts: EngineOptions) -> None:
        super().__init__(cfg, opts)
        self.labels = frozenset()  # no label matches: the hot loop never calls it

    def fingerprint(self) -> list[object]:
        return [self.kind.value, self.config.seconds]


def check(cfg: SensorConfig, fail: Fail) -> None:
    """No points, no label filter, and the seconds without a frame before the alert."""
    if cfg.points:
        raise fail(
            "points", f"a video_loss sensor has no points (points: []), got {len(cfg.points)}"
        )
    if cfg.labels:
        raise fail("labels", "a video_loss sensor is about the camera's video, not objects")
    if cfg.seconds is None:
        raise fail("seconds", "a video_loss sensor needs seconds (no frame this long: alert)")
    check_positive(fail, "seconds", cfg.seconds, "seconds")


KIND = SensorKindSpec(
    SensorKind.VIDEO_LOSS,
    VideoLossRule,
    check,
    fields=("seconds",),
    summary="seconds: this camera's video-loss timeout (no frame that long raises video_loss)",
)
