"""Typed records of the rule topics: sensor events, alerts and operator feedback.

Each class mirrors its ``.avsc`` field for field and in order (keyword-only, so the order can
follow the schema); times are ``int`` UTC microseconds, ids are UUID strings, arrays are
tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.records.enums import (
    AlertLifecycle,
    CrossingDirection,
    SensorEventKind,
    SensorKind,
    Severity,
    Verdict,
)
from schemas.records.geometry import BBox, Point


def _opt_bbox(data: Mapping[str, Any] | None) -> BBox | None:
    return None if data is None else BBox.from_avro(data)


def _opt_direction(symbol: str | None) -> CrossingDirection | None:
    return None if symbol is None else CrossingDirection(symbol)


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorEvent:
    """What one sensor rule saw on one camera at one event time (keyword-only fields)."""

    SCHEMA: ClassVar[str] = "SensorEvent"

    event_id: str
    camera_id: str
    sensor_id: str
    kind: SensorEventKind
    direction: CrossingDirection | None = None
    track_id: int | None = None
    label: str
    score: float
    ts: int
    count: int | None = None
    dwell_s: float | None = None
    anchor: Point | None = None
    bbox: BBox | None = None
    frame_seq: int
    evidence_uri: str | None = None
    speed_kmh: float | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "sensor_id": self.sensor_id,
            "kind": self.kind,
            "direction": self.direction,
            "track_id": self.track_id,
            "label": self.label,
            "score": self.score,
            "ts": self.ts,
            "count": self.count,
            "dwell_s": self.dwell_s,
            "anchor": None if self.anchor is None else self.anchor.to_avro(),
            "bbox": None if self.bbox is None else self.bbox.to_avro(),
            "frame_seq": self.frame_seq,
            "evidence_uri": self.evidence_uri,
            "speed_kmh": self.speed_kmh,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> SensorEvent:
        """Build from an Avro datum."""
        anchor = data["anchor"]
        return cls(
            event_id=data["event_id"],
            camera_id=data["camera_id"],
            sensor_id=data["sensor_id"],
            kind=SensorEventKind(data["kind"]),
            direction=_opt_direction(data["direction"]),
            track_id=data["track_id"],
            label=data["label"],
            score=data["score"],
            ts=data["ts"],
            count=data["count"],
            dwell_s=data["dwell_s"],
            anchor=None if anchor is None else Point.from_avro(anchor),
            bbox=_opt_bbox(data["bbox"]),
            frame_seq=data["frame_seq"],
            evidence_uri=data["evidence_uri"],
            speed_kmh=data["speed_kmh"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One lifecycle message of an alert, with the alert's full state (keyword-only fields)."""

    SCHEMA: ClassVar[str] = "Alert"

    alert_id: str
    camera_id: str
    sensor_id: str
    kind: SensorEventKind
    rule: SensorKind
    lifecycle: AlertLifecycle
    revision: int = 0
    severity: Severity
    label: str
    top_score: float
    start_ts: int
    end_ts: int | None = None
    updated_ts: int
    evidence_uri: str | None = None
    track_ids: tuple[int, ...] = ()
    event_count: int
    direction: CrossingDirection | None = None
    bbox: BBox | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "alert_id": self.alert_id,
            "camera_id": self.camera_id,
            "sensor_id": self.sensor_id,
            "kind": self.kind,
            "rule": self.rule,
            "lifecycle": self.lifecycle,
            "revision": self.revision,
            "severity": self.severity,
            "label": self.label,
            "top_score": self.top_score,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "updated_ts": self.updated_ts,
            "evidence_uri": self.evidence_uri,
            "track_ids": list(self.track_ids),
            "event_count": self.event_count,
            "direction": self.direction,
            "bbox": None if self.bbox is None else self.bbox.to_avro(),
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Alert:
        """Build from an Avro datum."""
        return cls(
            alert_id=data["alert_id"],
            camera_id=data["camera_id"],
            sensor_id=data["sensor_id"],
            kind=SensorEventKind(data["kind"]),
            rule=SensorKind(data["rule"]),
            lifecycle=AlertLifecycle(data["lifecycle"]),
            revision=data["revision"],
            severity=Severity(data["severity"]),
            label=data["label"],
            top_score=data["top_score"],
            start_ts=data["start_ts"],
            end_ts=data["end_ts"],
            updated_ts=data["updated_ts"],
            evidence_uri=data["evidence_uri"],
            track_ids=tuple(data["track_ids"]),
            event_count=data["event_count"],
            direction=_opt_direction(data["direction"]),
            bbox=_opt_bbox(data["bbox"]),
        )


@dataclass(frozen=True, slots=True)
class Feedback:
    """An operator's verdict on an alert."""

    SCHEMA: ClassVar[str] = "Feedback"

    feedback_id: str
    alert_id: str
    camera_id: str
    sensor_id: str
    verdict: Verdict
    operator: str
    ts: int
    note: str | None = None
    boxes: tuple[BBox, ...] = ()
    label: str | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "feedback_id": self.feedback_id,
            "alert_id": self.alert_id,
            "camera_id": self.camera_id,
            "sensor_id": self.sensor_id,
            "verdict": self.verdict,
            "operator": self.operator,
            "ts": self.ts,
            "note": self.note,
            "boxes": [b.to_avro() for b in self.boxes],
            "label": self.label,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Feedback:
        """Build from an Avro datum."""
        return cls(
            feedback_id=data["feedback_id"],
            alert_id=data["alert_id"],
            camera_id=data["camera_id"],
            sensor_id=data["sensor_id"],
            verdict=Verdict(data["verdict"]),
            operator=data["operator"],
            ts=data["ts"],
            note=data["note"],
            boxes=tuple(BBox.from_avro(b) for b in data["boxes"]),
            label=data["label"],
        )
