"""ClickHouse schema of the projection: the fact tables' columns as inserts send them.

The tables, rollups and views themselves are made by the versioned migrations
(sinks/clickhouse/migrations, applied by ``migrate``); a column added here needs a migration
that adds it, which ``migrate.verify`` checks when the sink starts.

Exactly-once in effect rests on three things, strongest first:

1. every row carries its source ``_partition``, ``_offset`` and ``_topic_id`` (the topic's
   incarnation: offsets restart when a topic is made anew): a restarted sink asks which
   offsets from its committed position on the table already holds (a minmax index on
   ``_offset`` keeps that to the recent parts) and does not insert those again; records
   without rows (dead letters) are handled again;
2. every insert carries ``insert_deduplication_token`` = topic id/partition/offset range and the
   tables (and the rollups fed by views) keep a deduplication window, so a retried insert of
   the same batch, for instance after a timeout whose insert did land, is dropped, rollups too;
3. the fact tables are ReplacingMergeTree on the event id, so even rows that got in twice
   some other way collapse at merge time, and ``FINAL`` shows each id once.

The rollups are AggregatingMergeTree tables fed on insert: analysts read hourly counts per
camera, sensor and label without scanning the facts (see sinks/ANALYSTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas import catalog


@dataclass(frozen=True, slots=True)
class FactTable:
    """A fact table: one topic's rows, with the columns inserts send (names and types as
    ClickHouse reports them)."""

    name: str
    topic: str
    columns: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the columns ``columns`` builds, in order."""
        return tuple(n for n, _ in self.columns)

    @property
    def types(self) -> tuple[str, ...]:
        """Types of the columns ``columns`` builds, in order."""
        return tuple(t for _, t in self.columns)

    @property
    def insert_names(self) -> tuple[str, ...]:
        """Column names an insert sends: the built columns, then ``_topic_id``."""
        return (*self.names, TOPIC_ID[0])

    @property
    def insert_types(self) -> tuple[str, ...]:
        """Column types an insert sends."""
        return (*self.types, TOPIC_ID[1])


_SOURCE = (("_partition", "UInt16"), ("_offset", "UInt64"))
TOPIC_ID = ("_topic_id", "LowCardinality(String)")
"""The source topic's incarnation (sinks/incarnation.py): offsets repeat across incarnations.
Not built by ``columns`` (one value per batch): the sink adds it to each insert."""
_BOX = (("x1", "Float32"), ("y1", "Float32"), ("x2", "Float32"), ("y2", "Float32"))
_NBOX = tuple((n, f"Nullable({t})") for n, t in _BOX)

DETECTIONS = FactTable(
    "detections",
    catalog.DETECTIONS,
    (
        ("event_id", "String"),
        ("object_index", "UInt16"),
        ("camera_id", "LowCardinality(String)"),
        ("frame_ts", "DateTime64(6, 'UTC')"),
        ("seq", "Int64"),
        ("model", "LowCardinality(String)"),
        ("track_id", "Int64"),
        ("label", "LowCardinality(String)"),
        ("score", "Float32"),
        *_BOX,
        ("evidence_uri", "Nullable(String)"),
        *_SOURCE,
    ),
)

SENSOR_EVENTS = FactTable(
    "sensor_events",
    catalog.SENSOR_EVENTS,
    (
        ("event_id", "String"),
        ("camera_id", "LowCardinality(String)"),
        ("sensor_id", "LowCardinality(String)"),
        ("kind", "LowCardinality(String)"),
        ("direction", "LowCardinality(Nullable(String))"),
        ("track_id", "Nullable(Int64)"),
        ("label", "LowCardinality(String)"),
        ("score", "Float32"),
        ("ts", "DateTime64(6, 'UTC')"),
        ("count", "Nullable(Int32)"),
        ("dwell_s", "Nullable(Float32)"),
        ("anchor_x", "Nullable(Float32)"),
        ("anchor_y", "Nullable(Float32)"),
        *_NBOX,
        ("frame_seq", "Int64"),
        ("evidence_uri", "Nullable(String)"),
        ("speed_kmh", "Nullable(Float32)"),
        *_SOURCE,
    ),
)

ALERTS = FactTable(
    "alerts",
    catalog.ALERTS,
    (
        ("alert_id", "String"),
        ("camera_id", "LowCardinality(String)"),
        ("sensor_id", "LowCardinality(String)"),
        ("kind", "LowCardinality(String)"),
        ("rule", "LowCardinality(String)"),
        ("lifecycle", "LowCardinality(String)"),
        ("revision", "UInt32"),
        ("severity", "LowCardinality(String)"),
        ("label", "LowCardinality(String)"),
        ("top_score", "Float32"),
        ("start_ts", "DateTime64(6, 'UTC')"),
        ("end_ts", "Nullable(DateTime64(6, 'UTC'))"),
        ("updated_ts", "DateTime64(6, 'UTC')"),
        ("evidence_uri", "Nullable(String)"),
        ("track_ids", "Array(Int64)"),
        ("event_count", "UInt32"),
        ("direction", "LowCardinality(Nullable(String))"),
        *_NBOX,
        *_SOURCE,
    ),
)

CAMERA_HEALTH = FactTable(
    "camera_health",
    catalog.HEALTH,
    (
        ("heartbeat_id", "String"),
        ("key", "LowCardinality(String)"),
        ("node_id", "LowCardinality(String)"),
        ("site", "LowCardinality(Nullable(String))"),
        ("camera_id", "LowCardinality(Nullable(String))"),
        ("state", "LowCardinality(String)"),
        ("configured_fps", "Nullable(Float32)"),
        ("decoded_fps", "Float32"),
        ("analysed_fps", "Float32"),
        ("frames_decoded", "Int64"),
        ("frames_analysed", "Int64"),
        ("decode_errors", "Int64"),
        ("reconnects", "Int64"),
        ("last_frame_ts", "Nullable(DateTime64(6, 'UTC'))"),
        ("detector_latency_ms", "Nullable(Float32)"),
        ("spool_depth", "Nullable(Int64)"),
        ("spool_evictions", "Nullable(Int64)"),
        ("evidence_backlog", "Nullable(Int64)"),
        ("error", "Nullable(String)"),
        ("interval_s", "Float32"),
        ("ts", "DateTime64(6, 'UTC')"),
        *_SOURCE,
    ),
)

FACT_TABLES: tuple[FactTable, ...] = (DETECTIONS, SENSOR_EVENTS, ALERTS, CAMERA_HEALTH)
BY_TOPIC = {t.topic: t for t in FACT_TABLES}

ROLLUPS: tuple[str, ...] = ("detections_hourly", "sensor_events_hourly", "alerts_hourly")


def drops(db: str) -> list[str]:
    """Statements that drop the projection (views before the tables they read), and its
    migration record, so that the next start makes it anew."""
    views = [f"{name}_mv" for name in ROLLUPS]
    tables: Sequence[str] = [*ROLLUPS, *(t.name for t in FACT_TABLES), "vidsight_migrations"]
    return [f"DROP VIEW IF EXISTS {db}.{v}" for v in views] + [
        f"DROP TABLE IF EXISTS {db}.{t}" for t in tables
    ]
