"""Typed records of the compacted configuration topics (cameras and sensors).

A ``None`` value on those topics is a tombstone (delete); the serde maps tombstones to
``None`` in both directions, these classes only describe live definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar, Self

from schemas.errors import SchemaError
from schemas.records.credentials import CameraCredentials, inline_secrets
from schemas.records.enums import DetectorKind, DirectionFilter, SensorKind, Severity
from schemas.records.geometry import Point
from schemas.records.mapping import AvroMapped, mapping_for
from schemas.records.recording import RecordSettings
from vidsight.redact import redact_url

OptionValue = None | bool | int | float | str | tuple[str, ...]
"""A detector option value: what the Avro map's value union can hold."""


def _no_options() -> Mapping[str, OptionValue]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorSpec:
    """Detector plugin of a camera and its options (the YAML detector block minus kind)."""

    kind: DetectorKind
    options: Mapping[str, OptionValue] = field(default_factory=_no_options)


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraConfig(AvroMapped):
    """The definition of one camera (its datum comes from the generic ``mapping``)."""

    SCHEMA: ClassVar[str] = "CameraConfig"

    camera_id: str
    name: str
    source: str
    fps: float
    detector: DetectorSpec
    enabled: bool = True
    updated_ts: int
    credentials: CameraCredentials | None = None
    node: str | None = None
    site: str | None = None
    record: RecordSettings | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum; a source with an inline password is refused, never published."""
        found = inline_secrets(self.source)
        if found and redact_url(self.source) != self.source:  # masked already: nothing secret
            raise SchemaError(
                f"camera {self.camera_id!r}: the source {redact_url(self.source)} carries "
                f"credentials ({', '.join(found)}); name them with a credentials reference "
                "(username + password_env or password_file) instead"
            )
        return mapping_for(CameraConfig).to_avro(self)

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Self:
        """Build from an Avro datum.

        A source that carries a password inline (written by a tool older than credential
        references) is redacted here, so no reader of the topic (the PostgreSQL and MongoDB
        sinks, the console, the edge) ever holds or stores it.
        """
        record = mapping_for(cls).from_avro(data)
        if inline_secrets(record.source):
            return replace(record, source=redact_url(record.source))
        return record


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A daily window [start_min, end_min) in minutes after local midnight; may wrap."""

    start_min: int
    end_min: int

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {"start_min": self.start_min, "end_min": self.end_min}

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> TimeWindow:
        """Build from an Avro datum."""
        return cls(data["start_min"], data["end_min"])


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """When a sensor is active: ISO weekdays (1 = Monday) and daily windows, in a timezone."""

    days: tuple[int, ...] = ()
    hours: tuple[TimeWindow, ...] = ()
    timezone: str = "UTC"

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "days": list(self.days),
            "hours": [w.to_avro() for w in self.hours],
            "timezone": self.timezone,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Schedule:
        """Build from an Avro datum."""
        return cls(
            days=tuple(data["days"]),
            hours=tuple(TimeWindow.from_avro(w) for w in data["hours"]),
            timezone=data["timezone"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorConfig:
    """The definition of one sensor rule."""

    SCHEMA: ClassVar[str] = "SensorConfig"

    sensor_id: str
    camera_id: str
    name: str | None = None
    kind: SensorKind
    points: tuple[Point, ...]
    direction: DirectionFilter = DirectionFilter.BOTH
    labels: tuple[str, ...] = ()
    min_score: float = 0.0
    min_area: float | None = None
    max_area: float | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None
    seconds: float | None = None
    schedule: Schedule | None = None
    severity: Severity = Severity.MEDIUM
    group_gap_s: float = 30.0
    inertia_frames: int = 1
    occupancy_threshold: int | None = None
    enabled: bool = True
    updated_ts: int
    score_threshold: float | None = None
    timezone: str | None = None
    distance_m: float | None = None
    speed_kmh_threshold: float | None = None
    max_seconds: float | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "sensor_id": self.sensor_id,
            "camera_id": self.camera_id,
            "name": self.name,
            "kind": self.kind,
            "points": [p.to_avro() for p in self.points],
            "direction": self.direction,
            "labels": list(self.labels),
            "min_score": self.min_score,
            "min_area": self.min_area,
            "max_area": self.max_area,
            "min_ratio": self.min_ratio,
            "max_ratio": self.max_ratio,
            "seconds": self.seconds,
            "schedule": None if self.schedule is None else self.schedule.to_avro(),
            "severity": self.severity,
            "group_gap_s": self.group_gap_s,
            "inertia_frames": self.inertia_frames,
            "occupancy_threshold": self.occupancy_threshold,
            "enabled": self.enabled,
            "updated_ts": self.updated_ts,
            "score_threshold": self.score_threshold,
            "timezone": self.timezone,
            "distance_m": self.distance_m,
            "speed_kmh_threshold": self.speed_kmh_threshold,
            "max_seconds": self.max_seconds,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> SensorConfig:
        """Build from an Avro datum."""
        schedule = data["schedule"]
        return cls(
            sensor_id=data["sensor_id"],
            camera_id=data["camera_id"],
            name=data["name"],
            kind=SensorKind(data["kind"]),
            points=tuple(Point.from_avro(p) for p in data["points"]),
            direction=DirectionFilter(data["direction"]),
            labels=tuple(data["labels"]),
            min_score=data["min_score"],
            min_area=data["min_area"],
            max_area=data["max_area"],
            min_ratio=data["min_ratio"],
            max_ratio=data["max_ratio"],
            seconds=data["seconds"],
            schedule=None if schedule is None else Schedule.from_avro(schedule),
            severity=Severity(data["severity"]),
            group_gap_s=data["group_gap_s"],
            inertia_frames=data["inertia_frames"],
            occupancy_threshold=data["occupancy_threshold"],
            enabled=data["enabled"],
            updated_ts=data["updated_ts"],
            score_threshold=data["score_threshold"],
            timezone=data["timezone"],
            distance_m=data["distance_m"],
            speed_kmh_threshold=data["speed_kmh_threshold"],
            max_seconds=data["max_seconds"],
        )
