"""Operator verdicts: build a ``Feedback`` event for an alert, publish it, list the given ones.

The event goes to ``vidsight.feedback`` keyed by camera id (Confluent-framed Avro through the
project's ``Serde``), which is what the processor's learned suppression is rebuilt from. A
false positive carries the alert's box and label, so the suppression does not depend on the
processor still remembering the alert. ``reopen`` is the verdict ``unknown`` with a note
saying so: the schema has no symbol for it yet, and the rules ignore ``unknown`` verdicts.

Alerts are looked up, and given verdicts listed, in PostgreSQL (``alerts`` and ``feedback``
tables, written by the postgres sink): one indexed row each, where the topics would have to
be read whole.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from schemas import catalog
from schemas.records import BBox, Feedback, Verdict, feedback_id, now_micros
from schemas.serde import Serde
from stream_processors.errors import FeedbackError
from stream_processors.feedback_settings import FeedbackSettings
from stream_processors.runtime.kafka import AckingProducer, producer_config
from stream_processors.runtime.settings import ProcessorSettings

MAX_TEXT_CHARS = 2000
"""Longest reason or note (the event travels to every worker and store)."""


@dataclass(frozen=True, slots=True)
class AlertRef:
    """What a verdict needs to know about its alert."""

    alert_id: str
    camera_id: str
    sensor_id: str
    label: str | None
    bbox: BBox | None


def operator_name(given: str | None) -> str:
    """The operator: as given, else the OS user."""
    name = (given or "").strip() or getpass.getuser()
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        raise FeedbackError("operator: at most 200 printable characters")
    return name


def note_text(*, reason: str | None, note: str | None, reopen: bool = False) -> str | None:
    """The note field: ``reason: R; note: N`` (the console writes the same shape)."""
    parts = []
    for key, value in (("reason", reason), ("note", note)):
        if value is None or not value.strip():
            continue
        if len(value) > MAX_TEXT_CHARS or any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise FeedbackError(f"{key}: at most {MAX_TEXT_CHARS} characters, no control codes")
        parts.append(f"{key}: {value.strip()}")
    text = "; ".join(parts) or None
    if reopen:
        text = "reopened" + (f"; {text}" if text else "")
    return text


def verdict_for(alert: AlertRef, verdict: Verdict, *, operator: str, note: str | None = None,
                ts: int | None = None) -> Feedback:  # fmt: skip
    """The Feedback event of one verdict (a false positive carries the alert's box)."""
    ts = now_micros() if ts is None else ts
    boxes = (alert.bbox,) if alert.bbox is not None and verdict is not Verdict.UNKNOWN else ()
    return Feedback(
        feedback_id=feedback_id(alert.alert_id, operator, ts),
        alert_id=alert.alert_id,
        camera_id=alert.camera_id,
        sensor_id=alert.sensor_id,
        verdict=verdict,
        operator=operator,
        ts=ts,
        note=note,
        boxes=boxes,
        label=alert.label,
    )


def publish_feedback(settings: ProcessorSettings, serde: Serde, *records: Feedback) -> None:
    """Publish verdicts to the feedback topic and wait for the broker's acknowledgement."""
    codec = serde.topic(catalog.FEEDBACK, Feedback)
    producer = AckingProducer(producer_config(settings))
    for record in records:
        producer.produce(settings.topics.feedback, codec.encode(record), record.camera_id.encode())
    producer.flush()


def _connect(settings: FeedbackSettings) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(settings.postgres_dsn.get_secret_value(), connect_timeout=10)
    except psycopg.Error as exc:
        raise FeedbackError(f"PostgreSQL is not reachable: {type(exc).__name__}") from exc


def find_alert(settings: FeedbackSettings, alert_id: str) -> AlertRef:
    """The alert as PostgreSQL has it; FeedbackError when it is not (yet) there."""
    with _connect(settings) as conn:
        row = conn.execute(
            "SELECT camera_id, sensor_id, label, bbox FROM alerts WHERE alert_id = %s",
            (alert_id,),
        ).fetchone()
    if row is None:
        raise FeedbackError(
            f"alert {alert_id} is not in PostgreSQL (a new alert takes a moment to get there; "
            "check the id with `vidsight alerts tail`)"
        )
    camera_id, sensor_id, label, bbox = row
    box = BBox(*(float(v) for v in bbox)) if bbox and len(bbox) == 4 else None
    return AlertRef(alert_id, camera_id, sensor_id, label, box)


@dataclass(frozen=True, slots=True)
class GivenVerdict:
    """One row of the feedback table."""

    feedback_id: str
    alert_id: str
    camera_id: str
    sensor_id: str
    verdict: str
    operator: str
    ts: datetime
    note: str | None
    label: str | None


def list_feedback(
    settings: FeedbackSettings, *, camera_id: str | None = None, limit: int = 100
) -> Iterator[GivenVerdict]:
    """The latest verdicts (newest first), of one camera or all."""
    sql = (
        "SELECT feedback_id::text, alert_id::text, camera_id, sensor_id, verdict, operator, ts,"
        " note, label FROM feedback"
    )
    params: tuple[Any, ...] = ()
    if camera_id is not None:
        sql += " WHERE camera_id = %s"
        params = (camera_id,)
    sql += " ORDER BY ts DESC, feedback_id LIMIT %s"
    with _connect(settings) as conn:
        rows = conn.execute(sql, (*params, limit)).fetchall()
    for row in rows:
        yield GivenVerdict(*row)
