"""Open alerts per camera: every alert whose lifecycle has started and not yet ended.

Each lifecycle message carries the alert's full state, so ``new`` and ``update`` replace the
entry (unless it is an older revision than the one held) and ``end`` removes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.records import Alert, AlertLifecycle, SensorEventKind, SensorKind, Severity
from stream_processors.readmodels.buckets import NO_OFFSET, is_redelivery, require_int


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAlert:
    """What an operator's list shows of one open alert."""

    alert_id: str
    sensor_id: str
    kind: SensorEventKind
    rule: SensorKind
    severity: Severity
    label: str
    top_score: float
    start_ts: int
    updated_ts: int
    revision: int
    event_count: int
    evidence_uri: str | None

    @classmethod
    def of(cls, alert: Alert) -> OpenAlert:
        """The open-alert entry of a lifecycle message."""
        return cls(
            alert_id=alert.alert_id,
            sensor_id=alert.sensor_id,
            kind=alert.kind,
            rule=alert.rule,
            severity=alert.severity,
            label=alert.label,
            top_score=alert.top_score,
            start_ts=alert.start_ts,
            updated_ts=alert.updated_ts,
            revision=alert.revision,
            event_count=alert.event_count,
            evidence_uri=alert.evidence_uri,
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data with the Avro field names."""
        return {
            "alert_id": self.alert_id,
            "sensor_id": self.sensor_id,
            "kind": str(self.kind),
            "rule": str(self.rule),
            "severity": str(self.severity),
            "label": self.label,
            "top_score": self.top_score,
            "start_ts": self.start_ts,
            "updated_ts": self.updated_ts,
            "revision": self.revision,
            "event_count": self.event_count,
            "evidence_uri": self.evidence_uri,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenAlert:
        """Back from ``to_json``."""
        return cls(
            alert_id=str(data["alert_id"]),
            sensor_id=str(data["sensor_id"]),
            kind=SensorEventKind(data["kind"]),
            rule=SensorKind(data["rule"]),
            severity=Severity(data["severity"]),
            label=str(data["label"]),
            top_score=float(data["top_score"]),
            start_ts=require_int(data["start_ts"], "start_ts"),
            updated_ts=require_int(data["updated_ts"], "updated_ts"),
            revision=require_int(data["revision"], "revision"),
            event_count=require_int(data["event_count"], "event_count"),
            evidence_uri=data["evidence_uri"],
        )


@dataclass(frozen=True, slots=True)
class CameraAlerts:
    """The open alerts of one camera by alert id; ``offset``: last record applied."""

    offset: int = NO_OFFSET
    open: Mapping[str, OpenAlert] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form (the changelog value)."""
        return {"offset": self.offset, "open": [a.to_json() for a in self.open.values()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CameraAlerts:
        """Back from the stored form."""
        alerts = (OpenAlert.from_json(a) for a in data["open"])
        return cls(require_int(data["offset"], "offset"), {a.alert_id: a for a in alerts})


def apply_alert(state: CameraAlerts, alert: Alert, offset: int) -> CameraAlerts:
    """The camera's open alerts after one lifecycle message (``state`` itself if unchanged)."""
    if is_redelivery(offset, state.offset):
        return state
    held = state.open.get(alert.alert_id)
    if alert.lifecycle == AlertLifecycle.END:
        if held is None:
            return state
        remaining = {k: v for k, v in state.open.items() if k != alert.alert_id}
        return CameraAlerts(offset, remaining)
    if alert.lifecycle not in (AlertLifecycle.NEW, AlertLifecycle.UPDATE):
        return state
    if held is not None and alert.revision < held.revision:
        return state
    return CameraAlerts(offset, {**state.open, alert.alert_id: OpenAlert.of(alert)})


def open_alerts_view(camera_id: str, state: CameraAlerts | None) -> dict[str, Any]:
    """The HTTP answer: the open alerts, oldest first."""
    alerts = [] if state is None else sorted(state.open.values(), key=lambda a: a.start_ts)
    return {
        "camera_id": camera_id,
        "count": len(alerts),
        "alerts": [a.to_json() for a in alerts],
    }
