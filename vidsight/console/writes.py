"""The only things the console writes: Feedback events and sensor definitions, to topics.

Sensors go through the code of ``vidsight sensors apply`` (``stream_processors.config`` for the
validation, ``stream_processors.runtime.sensors_topic`` to read, plan and publish), so the editor
and the CLI accept and refuse the same definitions and refuse the same moves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from schemas import catalog
from schemas.records import BBox, Feedback, SensorConfig, Verdict, feedback_id, now_micros
from schemas.serde import Serde
from stream_processors.config import FIELDS, parse_sensors
from stream_processors.errors import SensorConfigError
from stream_processors.runtime import sensors_topic as st
from stream_processors.runtime.kafka import AckingProducer, producer_config
from stream_processors.runtime.settings import ProcessorSettings
from vidsight.console.inputs import FeedbackInput, InputError
from vidsight.console.settings import ConsoleSettings
from vidsight.settings import Endpoints


class MoveRefusedError(Exception):
    """Saving would move a sensor to another camera (the CLI's ``--allow-move`` case)."""


def processor_settings(settings: ConsoleSettings) -> ProcessorSettings:
    """The endpoints of the console as the settings the stream-processor helpers take."""
    return ProcessorSettings.model_validate(
        {name: getattr(settings, name) for name in Endpoints.model_fields}
    )


def feedback_record(
    given: FeedbackInput, alert: Mapping[str, Any], operator: str, ts: int
) -> Feedback:
    """The Feedback event of an operator's verdict on an alert (its box is what FP suppresses)."""
    box = alert.get("bbox")
    boxes = (BBox(**box),) if isinstance(box, Mapping) and given.verdict != "unknown" else ()
    return Feedback(
        feedback_id=feedback_id(given.alert_id, operator, ts),
        alert_id=given.alert_id,
        camera_id=str(alert["camera_id"]),
        sensor_id=str(alert["sensor_id"]),
        verdict=Verdict(given.verdict),
        operator=operator,
        ts=ts,
        note=given.note,
        boxes=boxes,
        label=alert.get("label"),
    )


class Writer:
    """One producer for the app's lifetime (acks=all; flushed per request)."""

    def __init__(self, settings: ConsoleSettings, serde: Serde) -> None:
        self.ps = processor_settings(settings)
        self.serde = serde
        self._producer: AckingProducer | None = None

    def _acking(self) -> AckingProducer:
        if self._producer is None:
            self._producer = AckingProducer(producer_config(self.ps))
        return self._producer

    def publish_feedback(self, record: Feedback) -> None:
        value = self.serde.topic(catalog.FEEDBACK, Feedback).encode(record)
        producer = self._acking()
        producer.produce(self.ps.topics.feedback, value, record.camera_id.encode())
        producer.flush()

    def current_sensors(self) -> dict[str, SensorConfig]:
        return st.read_current(self.ps, self.serde)

    def save_sensor(
        self, cfg: SensorConfig, *, allow_move: bool, dry_run: bool = False
    ) -> st.SensorChange:
        """Publish one sensor as ``sensors apply`` would (never deleting the camera's others)."""
        change = next(
            c for c in st.plan(self.current_sensors(), [cfg]) if c.sensor_id == cfg.sensor_id
        )
        if change.action is st.Action.MOVE and not allow_move:
            raise MoveRefusedError(
                f"sensor {cfg.sensor_id!r} belongs to camera {change.from_camera!r}; saving "
                f"would move it to camera {cfg.camera_id!r} (sensor ids are global: pick "
                "another id, or pass allow_move=true)"
            )
        if not dry_run:
            st.publish(self.ps, self.serde, [change])
        return change


def validate_sensor(sensor_id: str, body: object) -> SensorConfig:
    """The body of ``PUT /api/sensors/{id}`` (YAML field names) as a validated SensorConfig."""
    if not isinstance(body, Mapping):
        raise InputError([{"loc": ["body"], "msg": "a JSON object with the sensor's fields"}])
    entry = dict(body)
    if entry.setdefault("id", sensor_id) != sensor_id:
        raise InputError([{"loc": ["body", "id"], "msg": f"must be the path's id {sensor_id!r}"}])
    try:
        (cfg,) = parse_sensors({"sensors": [entry]}, updated_ts=now_micros(), source="body")
    except SensorConfigError as exc:
        loc = ["body", *_path(exc.field)]
        raise InputError([{"loc": loc, "msg": exc.reason, "error": str(exc)}]) from exc
    return cfg


def _path(field: str) -> list[str | int]:
    """``points[2].x`` -> ``["points", 2, "x"]``."""
    out: list[str | int] = []
    for part in field.replace("]", "").split("."):
        name, *indexes = part.split("[")
        if name:
            out.append(name)
        out += [int(i) if i.isdigit() else i for i in indexes]
    return out


_SHAPED = frozenset(
    ("id", "camera", "kind", "points", "direction", "labels", "severity", "schedule")
)
"""Keys :func:`sensor_json` writes in their own shape (not the record field as is)."""


def sensor_json(cfg: SensorConfig) -> dict[str, Any]:
    """A sensor in the YAML shape users write (what PUT takes back)."""
    data = dataclasses.asdict(cfg)
    out: dict[str, Any] = {
        "id": cfg.sensor_id,
        "camera": cfg.camera_id,
        "kind": cfg.kind.value,
        "points": [[p.x, p.y] for p in cfg.points],
        "direction": cfg.direction.value,
        "labels": list(cfg.labels),
        "severity": cfg.severity.value,
    }
    for key in FIELDS:  # the YAML keys, every kind's own included
        if key not in _SHAPED and data.get(key) is not None:
            out[key] = data[key]
    if cfg.schedule is not None:  # in the friendly form, so a PUT of this answer keeps it
        out["schedule"] = {
            "days": list(cfg.schedule.days),
            "hours": [f"{_hhmm(w.start_min)}-{_hhmm(w.end_min)}" for w in cfg.schedule.hours],
            "timezone": cfg.schedule.timezone,
        }
    return out


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
