"""Typed records of recording: a camera's recording settings (in CameraConfig) and the
reference of each recorded MP4 segment (the recordings topic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class RecordingMode(StrEnum):
    """How a camera records: every packet, or only around detections."""

    CONTINUOUS = "continuous"
    EVENTS = "events"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordSettings:
    """A camera's recording settings as they travel in CameraConfig (null = not recording)."""

    mode: RecordingMode
    pre_s: float = 5.0
    post_s: float = 5.0
    segment_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingSegment:
    """One MP4 segment of a camera's encoded video: time range, object and codec."""

    SCHEMA: ClassVar[str] = "RecordingSegment"

    segment_id: str
    camera_id: str
    start_ts: int
    end_ts: int
    uri: str
    bytes: int
    sha256: str
    codec: str
    width: int
    height: int
    packets: int
    keyframe_start: bool
    mode: RecordingMode

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "segment_id": self.segment_id,
            "camera_id": self.camera_id,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "uri": self.uri,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "packets": self.packets,
            "keyframe_start": self.keyframe_start,
            "mode": self.mode.value,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> RecordingSegment:
        """Build from an Avro datum."""
        return cls(
            segment_id=data["segment_id"],
            camera_id=data["camera_id"],
            start_ts=data["start_ts"],
            end_ts=data["end_ts"],
            uri=data["uri"],
            bytes=data["bytes"],
            sha256=data["sha256"],
            codec=data["codec"],
            width=data["width"],
            height=data["height"],
            packets=data["packets"],
            keyframe_start=data["keyframe_start"],
            mode=RecordingMode(data["mode"]),
        )
