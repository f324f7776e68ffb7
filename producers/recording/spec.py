"""A camera's recording settings and the object keys of its segments. Pure.

Key layout (DESIGN.md): ``recordings/<camera>/<yyyy>/<mm>/<dd>/<hh>/<start_us>.mp4``, the date
parts being the segment's UTC start time, so one segment maps to exactly one key (a re-upload
after a restart overwrites the same object) and keys sort by time within an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.records import RecordingMode, RecordSettings, from_micros

Mode = Literal["off", "events", "continuous"]
RECORDING_SOURCES = ("file", "rtsp")
"""Source kinds that have encoded packets to record (HTTP snapshots and synthetic scenes
have none, and recording never encodes)."""


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """``record: {mode, pre_s, post_s, segment_s}`` of one camera."""

    mode: Mode = "off"
    pre_s: float = 5.0
    post_s: float = 5.0
    segment_s: float = 10.0

    @property
    def on(self) -> bool:
        """True when the camera records at all."""
        return self.mode != "off"

    @property
    def record_mode(self) -> RecordingMode:
        """The mode as it travels in RecordingSegment events."""
        return RecordingMode.EVENTS if self.mode == "events" else RecordingMode.CONTINUOUS

    def settings(self) -> RecordSettings | None:
        """The settings as CameraConfig carries them (None: not recording)."""
        if not self.on:
            return None
        return RecordSettings(
            mode=self.record_mode, pre_s=self.pre_s, post_s=self.post_s, segment_s=self.segment_s
        )

    @classmethod
    def of(cls, settings: RecordSettings | None) -> RecordSpec:
        """The spec of CameraConfig's settings; a mode this edge does not know records nothing."""
        if settings is None or settings.mode not in (
            RecordingMode.EVENTS,
            RecordingMode.CONTINUOUS,
        ):
            return cls()
        mode: Mode = "events" if settings.mode == RecordingMode.EVENTS else "continuous"
        return cls(mode, settings.pre_s, settings.post_s, settings.segment_s)


def recording_key(camera_id: str, start_us: int) -> str:
    """The object key of the segment of ``camera_id`` that starts at ``start_us``."""
    t = from_micros(start_us)
    return f"recordings/{camera_id}/{t:%Y}/{t:%m}/{t:%d}/{t:%H}/{start_us}.mp4"


def recording_prefix(camera_id: str, hour_us: int) -> str:
    """The key prefix of a camera's segments that start in the UTC hour of ``hour_us``."""
    t = from_micros(hour_us)
    return f"recordings/{camera_id}/{t:%Y}/{t:%m}/{t:%d}/{t:%H}/"
