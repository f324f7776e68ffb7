"""ClickHouse schema of the projection: fact tables, hourly rollups and the sink's offsets.

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

DEDUP_WINDOW = 1000
"""Insert blocks per table whose tokens are remembered for deduplication."""


@dataclass(frozen=True, slots=True)
class FactTable:
    """A fact table: one topic's rows, with the columns inserts send."""

    name: str
    topic: str
    columns: tuple[tuple[str, str], ...]
    engine: str
    partition_by: str
    order_by: str
    indexes: tuple[str, ...] = ()
    comment: str = ""

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

    def create(self, db: str) -> str:
        """CREATE TABLE IF NOT EXISTS."""
        cols = [f"    `{n}` {t}" for n, t in self.columns]
        cols.append(f"    `{TOPIC_ID[0]}` {TOPIC_ID[1]} DEFAULT ''")
        cols += [f"    INDEX {ix}" for ix in self.indexes]
        body = ",\n".join(cols)
        return (
            f"CREATE TABLE IF NOT EXISTS {db}.{self.name}\n(\n{body}\n)\n"
            f"ENGINE = {self.engine}\nPARTITION BY {self.partition_by}\nORDER BY {self.order_by}\n"
            f"SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}\n"
            f"COMMENT '{self.comment}'"
        )


_SOURCE = (("_partition", "UInt16"), ("_offset", "UInt64"))
TOPIC_ID = ("_topic_id", "LowCardinality(String)")
"""The source topic's incarnation (sinks/incarnation.py): offsets repeat across incarnations.
Not built by ``columns`` (one value per batch): the sink adds it to each insert."""
# Offsets grow with time like the sort keys, so a minmax index finds a restart's range fast.
_OFFSET_INDEX = "offset_minmax _offset TYPE minmax GRANULARITY 4"
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
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(frame_ts)",
    order_by="(camera_id, frame_ts, event_id, object_index)",
    indexes=("label_set label TYPE set(1024) GRANULARITY 4", _OFFSET_INDEX),
    comment="One row per detected object (vidsight.detections); bbox normalised 0..1.",
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
        *_SOURCE,
    ),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(ts)",
    order_by="(camera_id, sensor_id, ts, event_id)",
    indexes=("kind_set kind TYPE set(16) GRANULARITY 4", _OFFSET_INDEX),
    comment="One row per sensor event (vidsight.sensor-events): zone enter/exit, crossings, ...",
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
    engine="ReplacingMergeTree(revision)",
    partition_by="toYYYYMM(start_ts)",
    order_by="(camera_id, sensor_id, start_ts, alert_id)",
    indexes=(_OFFSET_INDEX,),
    comment="Latest state per alert (vidsight.alerts); query with FINAL for one row per alert.",
)

FACT_TABLES: tuple[FactTable, ...] = (DETECTIONS, SENSOR_EVENTS, ALERTS)
BY_TOPIC = {t.topic: t for t in FACT_TABLES}

ROLLUPS: tuple[str, ...] = ("detections_hourly", "sensor_events_hourly", "alerts_hourly")


def _rollup_target(db: str, name: str, dims: str, measures: str, order_by: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {db}.{name}\n(\n{dims},\n{measures}\n)\n"
        f"ENGINE = AggregatingMergeTree\nPARTITION BY toYYYYMM(hour)\nORDER BY {order_by}\n"
        f"SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"
    )


def statements(db: str) -> list[str]:
    """Every statement that creates the projection (idempotent, in order)."""
    out = [f"CREATE DATABASE IF NOT EXISTS {db}"]
    out += [t.create(db) for t in FACT_TABLES]
    # Tables made before `_topic_id` existed get it; their rows keep '' (unknown).
    out += [
        f"ALTER TABLE {db}.{t.name} ADD COLUMN IF NOT EXISTS "
        f"`{TOPIC_ID[0]}` {TOPIC_ID[1]} DEFAULT '' AFTER `_offset`"
        for t in FACT_TABLES
    ]
    out.append(
        _rollup_target(
            db,
            "detections_hourly",
            "    hour DateTime('UTC'),\n    camera_id LowCardinality(String),\n"
            "    label LowCardinality(String)",
            "    objects SimpleAggregateFunction(sum, UInt64),\n"
            "    score_sum SimpleAggregateFunction(sum, Float64),\n"
            "    tracks AggregateFunction(uniq, Int64)",
            "(camera_id, label, hour)",
        )
    )
    out.append(
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.detections_hourly_mv "
        f"TO {db}.detections_hourly AS\n"
        "SELECT toStartOfHour(frame_ts) AS hour, camera_id, label, count() AS objects,\n"
        "       sum(toFloat64(score)) AS score_sum, uniqState(track_id) AS tracks\n"
        f"FROM {db}.detections GROUP BY hour, camera_id, label"
    )
    out.append(
        _rollup_target(
            db,
            "sensor_events_hourly",
            "    hour DateTime('UTC'),\n    camera_id LowCardinality(String),\n"
            "    sensor_id LowCardinality(String),\n    kind LowCardinality(String),\n"
            "    direction LowCardinality(String),\n    label LowCardinality(String)",
            "    events SimpleAggregateFunction(sum, UInt64),\n"
            "    tracks AggregateFunction(uniq, Int64)",
            "(camera_id, sensor_id, kind, direction, label, hour)",
        )
    )
    out.append(
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.sensor_events_hourly_mv "
        f"TO {db}.sensor_events_hourly AS\n"
        "SELECT toStartOfHour(ts) AS hour, camera_id, sensor_id, kind,\n"
        "       ifNull(direction, '') AS direction, label, count() AS events,\n"
        "       uniqState(ifNull(track_id, -1)) AS tracks\n"
        f"FROM {db}.sensor_events GROUP BY hour, camera_id, sensor_id, kind, direction, label"
    )
    out.append(
        _rollup_target(
            db,
            "alerts_hourly",
            "    hour DateTime('UTC'),\n    camera_id LowCardinality(String),\n"
            "    sensor_id LowCardinality(String),\n    severity LowCardinality(String),\n"
            "    label LowCardinality(String)",
            "    alerts SimpleAggregateFunction(sum, UInt64)",
            "(camera_id, sensor_id, severity, label, hour)",
        )
    )
    # Each alert has exactly one `new` message: counting those counts alerts, not messages.
    out.append(
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.alerts_hourly_mv TO {db}.alerts_hourly AS\n"
        "SELECT toStartOfHour(start_ts) AS hour, camera_id, sensor_id, severity, label,\n"
        "       count() AS alerts\n"
        f"FROM {db}.alerts WHERE lifecycle = 'new'\n"
        "GROUP BY hour, camera_id, sensor_id, severity, label"
    )
    return out


def drops(db: str) -> list[str]:
    """Statements that drop the projection (views before the tables they read)."""
    views = [f"{name}_mv" for name in ROLLUPS]
    tables: Sequence[str] = [*ROLLUPS, *(t.name for t in FACT_TABLES)]
    return [f"DROP VIEW IF EXISTS {db}.{v}" for v in views] + [
        f"DROP TABLE IF EXISTS {db}.{t}" for t in tables
    ]
