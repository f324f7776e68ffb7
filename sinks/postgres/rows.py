"""Pure mapping of records to PostgreSQL rows, and the per-batch compaction of upserts.

Each topic maps to one table. A record becomes an ``Upsert`` (the row, keyed by its id, with
the version that orders states of the same key) or, for a config tombstone, a ``Delete``.
Within a batch only the winning operation per key is kept, by the same rule the SQL applies
across batches: the newest version wins and a later operation wins a tie, so a redelivered or
reordered older state never overwrites a newer one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import catalog
from schemas.records import (
    Alert,
    AvroRecord,
    CameraConfig,
    Feedback,
    Heartbeat,
    OptionValue,
    RecordingSegment,
    SensorConfig,
    from_micros,
)
from sinks.errors import RecordDataError


@dataclass(frozen=True, slots=True)
class Table:
    """A projected table: its columns with their COPY types, key and version columns."""

    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (column, PostgreSQL type for binary COPY)
    version: tuple[str, ...] = ()  # columns compared in the upsert guard; () = immutable rows
    strict: bool = False  # guard with < instead of <= (an equal version is the same state)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in COPY order."""
        return tuple(c for c, _ in self.columns)

    @property
    def types(self) -> tuple[str, ...]:
        """Column types in COPY order."""
        return tuple(t for _, t in self.columns)


CAMERAS = Table(
    "cameras",
    "camera_id",
    (
        ("camera_id", "text"),
        ("name", "text"),
        ("source", "text"),
        ("fps", "float8"),
        ("detector_kind", "text"),
        ("detector_options", "jsonb"),
        ("enabled", "bool"),
        ("updated_ts", "timestamptz"),
    ),
    version=("updated_ts",),
)
SENSORS = Table(
    "sensors",
    "sensor_id",
    (
        ("sensor_id", "text"),
        ("camera_id", "text"),
        ("name", "text"),
        ("kind", "text"),
        ("points", "jsonb"),
        ("direction", "text"),
        ("labels", "text[]"),
        ("min_score", "float8"),
        ("min_area", "float8"),
        ("max_area", "float8"),
        ("min_ratio", "float8"),
        ("max_ratio", "float8"),
        ("seconds", "float8"),
        ("schedule", "jsonb"),
        ("severity", "text"),
        ("group_gap_s", "float8"),
        ("inertia_frames", "int4"),
        ("occupancy_threshold", "int4"),
        ("enabled", "bool"),
        ("updated_ts", "timestamptz"),
        ("score_threshold", "float8"),
        ("timezone", "text"),
        ("distance_m", "float8"),
        ("speed_kmh_threshold", "float8"),
        ("max_seconds", "float8"),
    ),
    version=("updated_ts",),
)
ALERTS = Table(
    "alerts",
    "alert_id",
    (
        ("alert_id", "uuid"),
        ("camera_id", "text"),
        ("sensor_id", "text"),
        ("kind", "text"),
        ("rule", "text"),
        ("lifecycle", "text"),
        ("revision", "int4"),
        ("severity", "text"),
        ("label", "text"),
        ("top_score", "float8"),
        ("start_ts", "timestamptz"),
        ("end_ts", "timestamptz"),
        ("updated_ts", "timestamptz"),
        ("evidence_uri", "text"),
        ("track_ids", "int8[]"),
        ("event_count", "int4"),
        ("direction", "text"),
        ("bbox", "float8[]"),
    ),
    version=("revision", "updated_ts"),
    strict=True,
)
FEEDBACK = Table(
    "feedback",
    "feedback_id",
    (
        ("feedback_id", "uuid"),
        ("alert_id", "uuid"),
        ("camera_id", "text"),
        ("sensor_id", "text"),
        ("verdict", "text"),
        ("operator", "text"),
        ("ts", "timestamptz"),
        ("note", "text"),
        ("boxes", "jsonb"),
        ("label", "text"),
    ),
)

RECORDINGS = Table(
    "recordings",
    "segment_id",
    (
        ("segment_id", "uuid"),
        ("camera_id", "text"),
        ("start_ts", "timestamptz"),
        ("end_ts", "timestamptz"),
        ("uri", "text"),
        ("bytes", "int8"),
        ("sha256", "text"),
        ("codec", "text"),
        ("width", "int4"),
        ("height", "int4"),
        ("packets", "int4"),
        ("keyframe_start", "bool"),
        ("mode", "text"),
    ),
)

CAMERA_STATUS = Table(
    "camera_status",
    "key",
    (
        ("key", "text"),
        ("node_id", "text"),
        ("site", "text"),
        ("camera_id", "text"),
        ("state", "text"),
        ("configured_fps", "float8"),
        ("decoded_fps", "float8"),
        ("analysed_fps", "float8"),
        ("frames_decoded", "int8"),
        ("frames_analysed", "int8"),
        ("decode_errors", "int8"),
        ("reconnects", "int8"),
        ("last_frame_ts", "timestamptz"),
        ("detector_latency_ms", "float8"),
        ("spool_depth", "int8"),
        ("spool_evictions", "int8"),
        ("evidence_backlog", "int8"),
        ("error", "text"),
        ("interval_s", "float8"),
        ("ts", "timestamptz"),
    ),
    version=("ts",),
)

TABLES: Mapping[str, Table] = {
    catalog.CONFIG_CAMERAS: CAMERAS,
    catalog.CONFIG_SENSORS: SENSORS,
    catalog.ALERTS: ALERTS,
    catalog.FEEDBACK: FEEDBACK,
    catalog.RECORDINGS: RECORDINGS,
    catalog.HEALTH: CAMERA_STATUS,
}
"""The table each topic is projected into."""


@dataclass(frozen=True, slots=True)
class Upsert:
    """Insert or update one row; ``version`` orders states of the same key."""

    key: str
    row: tuple[Any, ...]
    version: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete the row of a key (a config tombstone)."""

    key: str


PgOp = Upsert | Delete


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise RecordDataError(f"{field} {value!r} is not a UUID") from None


def _ts(micros: int) -> datetime:
    try:
        return from_micros(micros)
    except OverflowError:
        raise RecordDataError(f"time {micros} us is outside the supported range") from None


def _option(value: OptionValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


def camera_row(c: CameraConfig) -> Upsert:
    """The cameras row of a camera definition."""
    options = {k: _option(v) for k, v in c.detector.options.items()}
    ts = _ts(c.updated_ts)
    row = (c.camera_id, c.name, c.source, c.fps, c.detector.kind.value, options, c.enabled, ts)
    return Upsert(c.camera_id, row, (c.updated_ts,))


def sensor_row(s: SensorConfig) -> Upsert:
    """The sensors row of a sensor definition."""
    schedule = None if s.schedule is None else s.schedule.to_avro()
    row = (
        s.sensor_id,
        s.camera_id,
        s.name,
        s.kind.value,
        [[p.x, p.y] for p in s.points],
        s.direction.value,
        list(s.labels),
        s.min_score,
        s.min_area,
        s.max_area,
        s.min_ratio,
        s.max_ratio,
        s.seconds,
        schedule,
        s.severity.value,
        s.group_gap_s,
        s.inertia_frames,
        s.occupancy_threshold,
        s.enabled,
        _ts(s.updated_ts),
        s.score_threshold,
        s.timezone,
        s.distance_m,
        s.speed_kmh_threshold,
        s.max_seconds,
    )
    return Upsert(s.sensor_id, row, (s.updated_ts,))


def alert_row(a: Alert) -> Upsert:
    """The alerts row of one lifecycle message (the alert's full state at that revision)."""
    b = a.bbox
    row = (
        _uuid(a.alert_id, "alert_id"),
        a.camera_id,
        a.sensor_id,
        a.kind.value,
        a.rule.value,
        a.lifecycle.value,
        a.revision,
        a.severity.value,
        a.label,
        a.top_score,
        _ts(a.start_ts),
        None if a.end_ts is None else _ts(a.end_ts),
        _ts(a.updated_ts),
        a.evidence_uri,
        list(a.track_ids),
        a.event_count,
        None if a.direction is None else a.direction.value,
        None if b is None else [b.x1, b.y1, b.x2, b.y2],
    )
    return Upsert(a.alert_id, row, (a.revision, a.updated_ts))


def feedback_row(f: Feedback) -> Upsert:
    """The feedback row of an operator verdict (immutable)."""
    row = (
        _uuid(f.feedback_id, "feedback_id"),
        _uuid(f.alert_id, "alert_id"),
        f.camera_id,
        f.sensor_id,
        f.verdict.value,
        f.operator,
        _ts(f.ts),
        f.note,
        [[b.x1, b.y1, b.x2, b.y2] for b in f.boxes],
        f.label,
    )
    return Upsert(f.feedback_id, row)


def recording_row(g: RecordingSegment) -> Upsert:
    """The recordings row of a segment reference (immutable: a re-upload is the same row)."""
    row = (
        _uuid(g.segment_id, "segment_id"),
        g.camera_id,
        _ts(g.start_ts),
        _ts(g.end_ts),
        g.uri,
        g.bytes,
        g.sha256,
        g.codec,
        g.width,
        g.height,
        g.packets,
        g.keyframe_start,
        g.mode.value,
    )
    return Upsert(g.segment_id, row)


def camera_status_row(h: Heartbeat) -> Upsert:
    """The camera_status row of a heartbeat: the latest state of its camera or node."""
    row = (
        h.key,
        h.node_id,
        h.site,
        h.camera_id,
        h.state.value,
        h.configured_fps,
        h.decoded_fps,
        h.analysed_fps,
        h.frames_decoded,
        h.frames_analysed,
        h.decode_errors,
        h.reconnects,
        None if h.last_frame_ts is None else _ts(h.last_frame_ts),
        h.detector_latency_ms,
        h.spool_depth,
        h.spool_evictions,
        h.evidence_backlog,
        h.error,
        h.interval_s,
        _ts(h.ts),
    )
    return Upsert(h.key, row, (h.ts,))


def to_op(topic: str, key: bytes | None, record: AvroRecord | None) -> PgOp:
    """The operation of one record of a projected topic (a tombstone deletes by message key)."""
    if record is None:
        if topic not in (catalog.CONFIG_CAMERAS, catalog.CONFIG_SENSORS):
            raise RecordDataError(f"a null value on {topic}, which is not a compacted topic")
        if not key:
            raise RecordDataError(f"a tombstone on {topic} without a key")
        try:
            return Delete(key.decode("utf-8"))
        except UnicodeDecodeError:
            raise RecordDataError(f"tombstone key {key!r} is not UTF-8") from None
    if isinstance(record, CameraConfig):
        return camera_row(record)
    if isinstance(record, SensorConfig):
        return sensor_row(record)
    if isinstance(record, Alert):
        return alert_row(record)
    if isinstance(record, Feedback):
        return feedback_row(record)
    if isinstance(record, RecordingSegment):
        return recording_row(record)
    if isinstance(record, Heartbeat):
        return camera_status_row(record)
    raise RecordDataError(f"{type(record).__name__} records are not projected into PostgreSQL")


def compact(ops: Iterable[PgOp]) -> tuple[list[Upsert], list[str]]:
    """The winning operation per key, in first-seen key order: (upserts, deleted keys).

    A later operation wins unless both are upserts and the earlier has a newer version: the
    rule the SQL guard applies between the stored row and an incoming one.
    """
    final: dict[str, PgOp] = {}
    for op in ops:
        current = final.get(op.key)
        if isinstance(op, Upsert) and isinstance(current, Upsert) and current.version > op.version:
            continue
        final[op.key] = op
    upserts = [op for op in final.values() if isinstance(op, Upsert)]
    deletes = [op.key for op in final.values() if isinstance(op, Delete)]
    return upserts, deletes


def rows(upserts: Sequence[Upsert]) -> list[tuple[Any, ...]]:
    """The COPY rows of some upserts."""
    return [u.row for u in upserts]
