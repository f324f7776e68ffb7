"""Typed records of the rule topics: sensor events, alerts and operator feedback.

Each class mirrors its ``.avsc`` field for field and in order (keyword-only, so the order can
follow the schema); times are ``int`` UTC microseconds, ids are UUID strings, arrays are
tuples. Alerts and feedback are low-volume: their datums come from the generic ``mapping``,
so a field added to the schema and the class needs nothing else.
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
from schemas.records.mapping import AvroMapped


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
class Alert(AvroMapped):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback(AvroMapped):
    """An operator's verdict on an alert (keyword-only fields)."""

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
