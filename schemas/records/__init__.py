"""Typed records, one frozen slotted dataclass per ``.avsc`` schema, plus ids and time helpers.

Conventions (checked against the schemas by ``tests/unit/schemas/test_records_avsc_sync.py``):
field names and order as in the schema; nullable fields are ``T | None``; enums are
``StrEnum``; times are ``int`` UTC microseconds; arrays are tuples; ``to_avro()`` gives the
datum fastavro writes and ``from_avro(datum)`` builds the record back.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, Self

from schemas.records.config import (
    CameraConfig,
    DetectorSpec,
    OptionValue,
    Schedule,
    SensorConfig,
    TimeWindow,
)
from schemas.records.credentials import CameraCredentials
from schemas.records.detections import DetectedObject, Detections, FrameRef
from schemas.records.enums import (
    AlertLifecycle,
    CrossingDirection,
    DetectorKind,
    DirectionFilter,
    SensorEventKind,
    SensorKind,
    Severity,
    Verdict,
)
from schemas.records.events import Alert, Feedback, SensorEvent
from schemas.records.geometry import BBox, Point
from schemas.records.health import HealthState, Heartbeat, node_key
from schemas.records.ids import (
    VIDSIGHT_NAMESPACE,
    alert_id,
    detections_event_id,
    feedback_id,
    frame_event_id,
    heartbeat_id,
    recording_segment_id,
    sensor_event_id,
)
from schemas.records.recording import RecordingMode, RecordingSegment, RecordSettings
from schemas.records.timestamps import from_micros, now_micros, to_micros


class AvroRecord(Protocol):
    """What the serde needs from a record class: its schema stem and the datum conversions."""

    SCHEMA: ClassVar[str]

    def to_avro(self) -> dict[str, Any]: ...

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Self: ...


RECORD_TYPES: Mapping[str, type[AvroRecord]] = MappingProxyType(
    {
        cls.SCHEMA: cls
        for cls in (
            FrameRef,
            Detections,
            SensorEvent,
            Alert,
            Feedback,
            CameraConfig,
            SensorConfig,
            RecordingSegment,
            Heartbeat,
        )
    }
)
"""Record class of every schema stem."""

__all__ = [
    "RECORD_TYPES",
    "VIDSIGHT_NAMESPACE",
    "Alert",
    "AlertLifecycle",
    "AvroRecord",
    "BBox",
    "CameraConfig",
    "CameraCredentials",
    "CrossingDirection",
    "DetectedObject",
    "Detections",
    "DetectorKind",
    "DetectorSpec",
    "DirectionFilter",
    "Feedback",
    "FrameRef",
    "HealthState",
    "Heartbeat",
    "OptionValue",
    "Point",
    "RecordSettings",
    "RecordingMode",
    "RecordingSegment",
    "Schedule",
    "SensorConfig",
    "SensorEvent",
    "SensorEventKind",
    "SensorKind",
    "Severity",
    "TimeWindow",
    "Verdict",
    "alert_id",
    "detections_event_id",
    "feedback_id",
    "frame_event_id",
    "from_micros",
    "heartbeat_id",
    "node_key",
    "now_micros",
    "recording_segment_id",
    "sensor_event_id",
    "to_micros",
]
