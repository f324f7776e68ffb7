"""Pure column building: records to the column lists of one columnar insert.

Inserts are column-oriented (one Python list per column, in ``FactTable.names`` order), which
is what clickhouse-connect serialises fastest. Times stay int microseconds: that is exactly
the tick count of ``DateTime64(6)``, so no datetime objects are made at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.records import Alert, AvroRecord, Detections, SensorEvent
from sinks.batching import Item, SourceMessage
from sinks.clickhouse.ddl import ALERTS, DETECTIONS, SENSOR_EVENTS
from sinks.errors import RecordDataError

Columns = list[list[Any]]

MAX_OBJECTS = 65535  # object_index is UInt16
_UINT16 = 65535
_UINT32 = 4_294_967_295


def check(message: SourceMessage, record: AvroRecord | None) -> AvroRecord:
    """Reject what the column types cannot hold (before it reaches an insert)."""
    if isinstance(record, Detections):
        if len(record.objects) > MAX_OBJECTS:
            raise RecordDataError(f"{len(record.objects)} objects on one frame (max {MAX_OBJECTS})")
    elif isinstance(record, Alert):
        if not 0 <= record.revision <= _UINT32 or not 0 <= record.event_count <= _UINT32:
            raise RecordDataError(f"alert revision/event_count out of range: {record.alert_id}")
    elif not isinstance(record, SensorEvent):
        raise RecordDataError(f"{type(record).__name__} records are not projected into ClickHouse")
    if message.partition > _UINT16:
        raise RecordDataError(f"partition {message.partition} does not fit UInt16")
    return record


def detection_columns(items: Sequence[Item[Any]]) -> tuple[Columns, int]:
    """Columns of ``DETECTIONS`` (one row per object) and the row count."""
    cols: Columns = [[] for _ in range(9)]
    (event_id, index, camera, ts, seq, model, uri, part, offset) = cols
    objects: list[Any] = []
    # Per-frame values are repeated with extend([v] * n); the per-object columns are then
    # built one comprehension each over all the batch's objects: on the hottest insert path
    # that is about half the time of appending every object's values column by column.
    for item in items:
        d: Detections = item.value
        objs = d.objects
        n = len(objs)
        if not n:
            continue
        m = item.message
        event_id.extend([d.event_id] * n)
        index.extend(range(n))
        camera.extend([d.camera_id] * n)
        ts.extend([d.frame_ts] * n)
        seq.extend([d.seq] * n)
        model.extend([d.model] * n)
        uri.extend([d.evidence_uri] * n)
        part.extend([m.partition] * n)
        offset.extend([m.offset] * n)
        objects.extend(objs)
    boxes = [o.bbox for o in objects]
    out: Columns = [
        event_id,
        index,
        camera,
        ts,
        seq,
        model,
        [o.track_id for o in objects],
        [o.label for o in objects],
        [o.score for o in objects],
        [b.x1 for b in boxes],
        [b.y1 for b in boxes],
        [b.x2 for b in boxes],
        [b.y2 for b in boxes],
        uri,
        part,
        offset,
    ]
    return out, len(objects)


def sensor_event_row(e: SensorEvent, m: SourceMessage) -> tuple[Any, ...]:
    """The ``SENSOR_EVENTS`` row of one sensor event."""
    a, b = e.anchor, e.bbox
    return (
        e.event_id,
        e.camera_id,
        e.sensor_id,
        e.kind.value,
        None if e.direction is None else e.direction.value,
        e.track_id,
        e.label,
        e.score,
        e.ts,
        e.count,
        e.dwell_s,
        None if a is None else a.x,
        None if a is None else a.y,
        None if b is None else b.x1,
        None if b is None else b.y1,
        None if b is None else b.x2,
        None if b is None else b.y2,
        e.frame_seq,
        e.evidence_uri,
        e.speed_kmh,
        m.partition,
        m.offset,
    )


def alert_row(a: Alert, m: SourceMessage) -> tuple[Any, ...]:
    """The ``ALERTS`` row of one alert lifecycle message."""
    b = a.bbox
    return (
        a.alert_id,
        a.camera_id,
        a.sensor_id,
        a.kind.value,
        a.rule.value,
        a.lifecycle.value,
        a.revision,
        a.severity.value,
        a.label,
        a.top_score,
        a.start_ts,
        a.end_ts,
        a.updated_ts,
        a.evidence_uri,
        list(a.track_ids),
        a.event_count,
        None if a.direction is None else a.direction.value,
        None if b is None else b.x1,
        None if b is None else b.y1,
        None if b is None else b.x2,
        None if b is None else b.y2,
        m.partition,
        m.offset,
    )


def row_columns(rows: Sequence[tuple[Any, ...]], width: int) -> Columns:
    """Rows pivoted into columns."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(c) for c in zip(*rows, strict=True)]


def columns_for(topic_table: str, items: Sequence[Item[Any]]) -> tuple[Columns, int]:
    """Columns and row count of a batch of one fact table's topic."""
    if topic_table == DETECTIONS.name:
        return detection_columns(items)
    if topic_table == SENSOR_EVENTS.name:
        rows = [sensor_event_row(i.value, i.message) for i in items]
        return row_columns(rows, len(SENSOR_EVENTS.columns)), len(rows)
    if topic_table == ALERTS.name:
        rows = [alert_row(i.value, i.message) for i in items]
        return row_columns(rows, len(ALERTS.columns)), len(rows)
    raise ValueError(f"unknown fact table {topic_table!r}")
