"""ClickHouse SQL of the hourly analytics: DDL of the tables and the statements that fill them.

Pure functions that return SQL text. Identifiers are validated and times are formatted from
``datetime`` values here, never taken as text, so nothing a caller passes can change a
statement's shape. Every fill is idempotent: :func:`replace_hour` deletes the hour's rows
(synchronously) before inserting them again, so a rerun or a backfill never double counts.
Deleting then inserting works on the local chDB engine and on a real ClickHouse alike, and
unlike ``REPLACE PARTITION`` it needs no partition per hour (thousands of tiny partitions
would hurt a real server).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from etl.errors import EtlError

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GRID_W = 64
GRID_H = 36


def ident(name: str) -> str:
    """``name`` when it is a plain identifier; EtlError otherwise."""
    if not IDENT.fullmatch(name):
        raise EtlError(f"{name!r} is not a plain identifier (letters, digits, _)")
    return name


def ts(value: datetime) -> str:
    """A DateTime64(6, 'UTC') literal of an aware datetime."""
    if value.tzinfo is None:
        raise EtlError(f"{value!r} has no time zone; pass UTC times")
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"toDateTime64('{text}', 6, 'UTC')"


def hour_literal(value: datetime) -> str:
    """A DateTime('UTC') literal of the hour that starts at ``value``."""
    if (
        value.tzinfo is None
        or value.astimezone(UTC).replace(minute=0, second=0, microsecond=0) != value
    ):
        raise EtlError(f"{value!r} is not the start of a UTC hour")
    return f"toDateTime('{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}', 'UTC')"


def day_literal(value: datetime) -> str:
    """A Date literal of the UTC day of ``value``."""
    return f"toDate('{value.astimezone(UTC):%Y-%m-%d}')"


_HOURLY_ORDER = "SETTINGS index_granularity = 8192"

TABLES: dict[str, tuple[str, str]] = {
    # name: (columns, ORDER BY); every table is partitioned by month of its time column.
    "sensor_hourly": (
        "hour DateTime('UTC'), camera_id LowCardinality(String), sensor_id LowCardinality(String), "
        "kind LowCardinality(String), crossings_a_to_b UInt32, crossings_b_to_a UInt32, "
        "entries UInt32, exits UInt32, max_occupancy UInt32, dwell_p50_s Nullable(Float64), "
        "dwell_p95_s Nullable(Float64), alerts UInt32",
        "(hour, camera_id, sensor_id)",
    ),
    "camera_hourly": (
        "hour DateTime('UTC'), camera_id LowCardinality(String), label LowCardinality(String), "
        "objects UInt64, tracks UInt64, mean_score Float64, frames_analysed UInt64, "
        "frames_with_detections UInt64",
        "(hour, camera_id, label)",
    ),
    "heatmap_cells": (
        "hour DateTime('UTC'), camera_id LowCardinality(String), gx UInt8, gy UInt8, "
        "detections UInt64",
        "(hour, camera_id, gy, gx)",
    ),
    "anomalies": (
        "hour DateTime('UTC'), camera_id LowCardinality(String), sensor_id LowCardinality(String), "
        "metric LowCardinality(String), value Float64, median Float64, mad Float64, "
        "score Float64, history_weeks UInt8, alert_id String",
        "(hour, camera_id, sensor_id, metric)",
    ),
    "camera_health_daily": (
        "day Date, camera_id LowCardinality(String), fps_configured Float64, "
        "frames UInt64, expected_frames UInt64, uptime Float64, gaps UInt32, "
        "gap_seconds Float64, longest_gap_start Nullable(DateTime64(6, 'UTC')), "
        "longest_gap_s Float64, detection_rate Float64, outlier_hours Array(UInt8)",
        "(day, camera_id)",
    ),
    "alert_quality_daily": (
        "day Date, camera_id LowCardinality(String), rule LowCardinality(String), "
        "reason LowCardinality(String), alerts UInt32, reviewed UInt32, confirmed UInt32, "
        "false_positives UInt32",
        "(day, camera_id, rule, reason)",
    ),
    "storage_usage": (
        "day Date, store LowCardinality(String), object LowCardinality(String), "
        "camera_id LowCardinality(String), bytes UInt64, items UInt64",
        "(day, store, object, camera_id)",
    ),
}
TIME_COLUMN = {
    name: ("day" if cols.startswith("day ") else "hour") for name, (cols, _) in TABLES.items()
}


def columns(table: str) -> list[str]:
    """Column names of an analytics table, in order (commas inside a type are not splits)."""
    names, depth, start = [], 0, 0
    cols = TABLES[table][0] + ","
    for i, ch in enumerate(cols):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            names.append(cols[start:i].split()[0])
            start = i + 1
    return names


def create_table(db: str, table: str) -> str:
    """CREATE TABLE IF NOT EXISTS of one analytics table."""
    cols, order = TABLES[table]
    part = "toYYYYMM(day)" if TIME_COLUMN[table] == "day" else "toYYYYMM(hour)"
    return (
        f"CREATE TABLE IF NOT EXISTS {ident(db)}.{ident(table)} ({cols}) "
        f"ENGINE = MergeTree PARTITION BY {part} ORDER BY {order} {_HOURLY_ORDER}"
    )


def create_all(db: str) -> list[str]:
    """Every statement that creates the database and the analytics tables (idempotent)."""
    return [f"CREATE DATABASE IF NOT EXISTS {ident(db)}"] + [create_table(db, t) for t in TABLES]


def delete_period(db: str, table: str, start: datetime) -> str:
    """Delete one hour's (or day's) rows, waiting until the mutation is done."""
    column = TIME_COLUMN[table]
    when = hour_literal(start) if column == "hour" else day_literal(start)
    return (
        f"ALTER TABLE {ident(db)}.{ident(table)} DELETE WHERE {column} = {when} "
        "SETTINGS mutations_sync = 2"
    )


def replace_hour(db: str, table: str, start: datetime, insert: str) -> list[str]:
    """The statements that replace a period's rows by what ``insert`` writes."""
    return [delete_period(db, table, start), insert]


def sensor_hourly(db: str, start: datetime) -> str:
    """INSERT ... SELECT of one hour of ``sensor_hourly`` from sensor events and alerts.

    ``kind`` is the rule kind: the alerts' ``rule`` when the hour has an alert, else what the
    events say (crossings: tripwire, loiter events: loitering, otherwise zone). Dwell times are
    those of zone exits; percentiles are exact and interpolate linearly (``etl.analytics.dwell``
    computes the same). ``alerts`` counts alerts that started in the hour.
    """
    d = ident(db)
    lo, hi = ts(start), ts(start + timedelta(hours=1))
    return f"""INSERT INTO {d}.sensor_hourly
SELECT {hour_literal(start)} AS hour, camera_id, sensor_id,
    if(anyIf(rule, is_alert = 1) != '', anyIf(rule, is_alert = 1),
       multiIf(countIf(ev = 'line_cross') > 0, 'tripwire',
               countIf(ev = 'loiter') > 0, 'loitering', 'zone')) AS kind,
    toUInt32(countIf(ev = 'line_cross' AND dir = 'a_to_b')) AS crossings_a_to_b,
    toUInt32(countIf(ev = 'line_cross' AND dir = 'b_to_a')) AS crossings_b_to_a,
    toUInt32(countIf(ev = 'zone_enter')) AS entries,
    toUInt32(countIf(ev = 'zone_exit')) AS exits,
    toUInt32(greatest(0, ifNull(maxIf(cnt, ev = 'occupancy'), 0))) AS max_occupancy,
    if(countIf(dwell_ok) = 0, NULL,
       quantileExactInclusiveIf(0.5)(dwell, dwell_ok)) AS dwell_p50_s,
    if(countIf(dwell_ok) = 0, NULL,
       quantileExactInclusiveIf(0.95)(dwell, dwell_ok)) AS dwell_p95_s,
    toUInt32(countIf(is_alert = 1)) AS alerts
FROM (
    SELECT camera_id, sensor_id, toString(kind) AS ev, ifNull(toString(direction), '') AS dir,
        toInt64(ifNull(count, -1)) AS cnt, toFloat64(ifNull(dwell_s, 0)) AS dwell,
        ev = 'zone_exit' AND dwell_s IS NOT NULL AS dwell_ok, '' AS rule, 0 AS is_alert
    FROM {d}.sensor_events FINAL WHERE ts >= {lo} AND ts < {hi}
    UNION ALL
    SELECT camera_id, sensor_id, '' AS ev, '' AS dir, toInt64(-1) AS cnt, toFloat64(0) AS dwell,
        false AS dwell_ok, toString(rule) AS rule, 1 AS is_alert
    FROM {d}.alerts FINAL WHERE start_ts >= {lo} AND start_ts < {hi}
)
GROUP BY camera_id, sensor_id"""


def camera_hourly(db: str, start: datetime) -> str:
    """INSERT ... SELECT of one hour of ``camera_hourly`` from the detections.

    ``frames_analysed`` counts the sequence numbers from the camera's first to its last frame
    with detections in the hour (frames without objects publish no Detections, so this is
    what ClickHouse can know; the frames topic in the archive holds the full count).
    """
    d = ident(db)
    lo, hi = ts(start), ts(start + timedelta(hours=1))
    return f"""INSERT INTO {d}.camera_hourly
SELECT {hour_literal(start)} AS hour, l.camera_id, l.label, l.objects, l.tracks, l.mean_score,
    f.frames_analysed, l.frames_with_detections
FROM (
    SELECT camera_id, label, count() AS objects, uniqExact(track_id) AS tracks,
        avg(toFloat64(score)) AS mean_score, uniqExact(event_id) AS frames_with_detections
    FROM {d}.detections FINAL WHERE frame_ts >= {lo} AND frame_ts < {hi}
    GROUP BY camera_id, label
) AS l
INNER JOIN (
    SELECT camera_id, toUInt64(max(seq) - min(seq) + 1) AS frames_analysed
    FROM {d}.detections FINAL WHERE frame_ts >= {lo} AND frame_ts < {hi}
    GROUP BY camera_id
) AS f ON l.camera_id = f.camera_id"""


def heatmap_cells(db: str, start: datetime) -> str:
    """INSERT ... SELECT of one hour of ``heatmap_cells``: detections per bottom-centre cell."""
    d = ident(db)
    lo, hi = ts(start), ts(start + timedelta(hours=1))
    mid_x = "(toFloat64(x1) + toFloat64(x2)) / 2"
    gx = f"toUInt8(greatest(0, least({GRID_W - 1}, floor({mid_x} * {GRID_W}))))"
    gy = f"toUInt8(greatest(0, least({GRID_H - 1}, floor(toFloat64(y2) * {GRID_H}))))"
    return f"""INSERT INTO {d}.heatmap_cells
SELECT {hour_literal(start)} AS hour, camera_id, {gx} AS gx, {gy} AS gy, count() AS detections
FROM {d}.detections FINAL WHERE frame_ts >= {lo} AND frame_ts < {hi}
GROUP BY camera_id, gx, gy"""


def heatmap_of(db: str, hours: list[datetime]) -> str:
    """SELECT camera_id, gx, gy, detections of some hours (one hour, or a day's 24)."""
    if not hours:
        raise EtlError("no hour given")
    inlist = ", ".join(hour_literal(h) for h in hours)
    return (
        f"SELECT camera_id, gx, gy, sum(detections) FROM {ident(db)}.heatmap_cells "
        f"WHERE hour IN ({inlist}) GROUP BY camera_id, gx, gy ORDER BY camera_id, gy, gx"
    )


def latest_evidence(db: str, start: datetime, end: datetime) -> str:
    """SELECT camera_id, the newest evidence URI of its detections in [start, end)."""
    d = ident(db)
    return (
        f"SELECT camera_id, argMax(evidence_uri, frame_ts) FROM {d}.detections "
        f"WHERE frame_ts >= {ts(start)} AND frame_ts < {ts(end)} AND evidence_uri IS NOT NULL "
        "GROUP BY camera_id"
    )


ANOMALY_METRICS = ("crossings_a_to_b", "crossings_b_to_a", "entries")


def anomaly_inputs(db: str, start: datetime, weeks: int = 4) -> str:
    """SELECT camera_id, sensor_id, weeks back (0 = this hour), and the metrics of
    ``sensor_hourly`` for the hour and the same hour of the ``weeks`` weeks before."""
    hours = [start - timedelta(weeks=k) for k in range(weeks + 1)]
    inlist = ", ".join(hour_literal(h) for h in hours)
    metrics = ", ".join(ANOMALY_METRICS)
    return (
        f"SELECT camera_id, sensor_id, toUInt8(dateDiff('week', hour, {hour_literal(start)})) "
        f"AS back, {metrics} FROM {ident(db)}.sensor_hourly WHERE hour IN ({inlist}) "
        "ORDER BY camera_id, sensor_id, back"
    )


def existing_alert_ids(db: str, start: datetime) -> str:
    """SELECT the alert ids already recorded for an hour's anomalies."""
    return f"SELECT alert_id FROM {ident(db)}.anomalies WHERE hour = {hour_literal(start)}"


def alerts_with_ids(db: str) -> str:
    """SELECT alert_id FROM the alerts fact table where alert_id is in {ids:Array(String)}."""
    return (
        f"SELECT DISTINCT alert_id FROM {ident(db)}.alerts "
        "WHERE has({ids:Array(String)}, alert_id)"
    )
