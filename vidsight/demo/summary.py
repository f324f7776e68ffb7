"""What the stores hold after a demo run, read back from each store (not from counters).

Every query is scoped to the run: the site's cameras and times from the run's start, so a
second ``make demo`` on the same stack reports its own run, not the sum of all runs.
ClickHouse is read with ``FINAL`` (ReplacingMergeTree: each id once, whatever was replayed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pymongo

from schemas.records import CrossingDirection, from_micros
from sinks.mongo import DETECTIONS as MONGO_FRAMES
from sinks.settings import SinkSettings
from sinks.sql import run_query
from vidsight.s3 import s3_client


@dataclass(frozen=True, slots=True)
class RuleAlerts:
    """Alerts of one rule (sensor kind) in PostgreSQL."""

    rule: str
    alerts: int
    ended: int
    events: int


@dataclass(frozen=True, slots=True)
class Summary:
    """The run as the stores see it."""

    alerts_by_rule: tuple[RuleAlerts, ...]
    crossings: dict[str, Counter[CrossingDirection]]
    """Per camera, from ClickHouse ``sensor_events``."""
    rows: dict[str, dict[str, int]]
    """Per store, per table / collection / prefix: what this run wrote."""
    totals: dict[str, dict[str, int]]
    """The same keys: what the stores hold in all (every run, every camera)."""


def _in_list(values: Sequence[str]) -> str:
    # Camera ids are validated ([A-Za-z0-9._-]); quoting still keeps the query well formed.
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def _ch_time(us: int) -> str:
    return f"fromUnixTimestamp64Micro(toInt64({us}), 'UTC')"


def clickhouse_counts(
    settings: SinkSettings, cameras: Sequence[str], since_us: int
) -> tuple[dict[str, Counter[CrossingDirection]], dict[str, int]]:
    """Crossings per camera and direction, and the run's rows per fact table."""
    cams, since = _in_list(cameras), _ch_time(since_us)
    result = run_query(
        settings,
        "SELECT camera_id, direction, count() FROM sensor_events FINAL "
        f"WHERE kind = 'line_cross' AND camera_id IN ({cams}) AND ts >= {since} "
        "GROUP BY camera_id, direction",
    )
    crossings: dict[str, Counter[CrossingDirection]] = {c: Counter() for c in cameras}
    for camera_id, direction, n in result.rows:
        crossings[camera_id][CrossingDirection(direction)] += int(n)
    rows = {}
    for table, ts in (("detections", "frame_ts"), ("sensor_events", "ts"), ("alerts", "start_ts")):
        r = run_query(
            settings,
            f"SELECT count() FROM {table} FINAL WHERE camera_id IN ({cams}) AND {ts} >= {since}",
        )
        rows[table] = int(r.rows[0][0])
    return crossings, rows


def postgres_counts(
    settings: SinkSettings, cameras: Sequence[str], since_us: int
) -> tuple[tuple[RuleAlerts, ...], dict[str, int]]:
    """Alerts per rule (one row per alert, whatever its lifecycle) and rows per table."""
    since = from_micros(since_us)
    cams = list(cameras)
    with psycopg.connect(settings.postgres_dsn.get_secret_value(), connect_timeout=10) as conn:
        by_rule = conn.execute(
            "SELECT rule, count(*), count(*) FILTER (WHERE lifecycle = 'end'), "
            "coalesce(sum(event_count), 0) FROM alerts "
            "WHERE camera_id = ANY(%s) AND start_ts >= %s GROUP BY rule ORDER BY rule",
            (cams, since),
        ).fetchall()
        rows = {
            "cameras": conn.execute(
                "SELECT count(*) FROM cameras WHERE camera_id = ANY(%s)", (cams,)
            ).fetchone(),
            "sensors": conn.execute(
                "SELECT count(*) FROM sensors WHERE camera_id = ANY(%s)", (cams,)
            ).fetchone(),
            "alerts": conn.execute(
                "SELECT count(*) FROM alerts WHERE camera_id = ANY(%s) AND start_ts >= %s",
                (cams, since),
            ).fetchone(),
        }
    alerts = tuple(RuleAlerts(r, int(n), int(e), int(ev)) for r, n, e, ev in by_rule)
    return alerts, {k: int(v[0]) if v else 0 for k, v in rows.items()}


def mongo_counts(settings: SinkSettings, cameras: Sequence[str], since_us: int) -> dict[str, int]:
    """Frame documents of the run; config documents (current and history) of the site."""
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        settings.mongo_uri.get_secret_value(), serverSelectionTimeoutMS=10_000
    )
    try:
        db = client[settings.mongo_database]
        frames = db[MONGO_FRAMES].count_documents(
            {"camera_id": {"$in": list(cameras)}, "frame_ts_us": {"$gte": since_us}}
        )
        site = {
            "$or": [
                {"kind": "camera", "id": {"$in": list(cameras)}},
                {"kind": "sensor", "config.camera_id": {"$in": list(cameras)}},
            ]
        }
        configs = db["configs"].count_documents({"current": True, **site})
        history = db["configs"].count_documents({"current": False, **site})
    finally:
        client.close()
    return {
        "frame documents": frames,
        "current config documents": configs,
        "config history documents": history,
    }


def s3_counts(settings: SinkSettings, cameras: Sequence[str], since_us: int) -> dict[str, int]:
    """Archive objects and evidence images written since ``since_us`` (wall clock)."""
    s3 = s3_client(settings, timeout_s=10.0, path_style=True)
    # LastModified has whole seconds: a second of slack keeps objects of the first second.
    since = datetime.fromtimestamp(since_us / 1e6 - 1.0, UTC)
    paginator = s3.get_paginator("list_objects_v2")

    def count(prefix: str) -> int:
        return sum(
            obj["LastModified"] >= since
            for page in paginator.paginate(Bucket=settings.s3_bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        )

    return {
        "archive objects": count(settings.archive_prefix + "/"),
        "evidence images": sum(count(f"evidence/{c}/") for c in cameras),
    }


def store_totals(settings: SinkSettings) -> dict[str, dict[str, int]]:
    """What the stores hold in all, with the keys of ``Summary.rows``."""
    clickhouse = {
        table: int(run_query(settings, f"SELECT count() FROM {table} FINAL").rows[0][0])
        for table in ("detections", "sensor_events", "alerts")
    }
    with psycopg.connect(settings.postgres_dsn.get_secret_value(), connect_timeout=10) as conn:
        postgres = {}
        for table in ("cameras", "sensors", "alerts"):
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            postgres[table] = int(row[0]) if row else 0
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        settings.mongo_uri.get_secret_value(), serverSelectionTimeoutMS=10_000
    )
    try:
        db = client[settings.mongo_database]
        mongo = {
            "frame documents": db[MONGO_FRAMES].count_documents({}),
            "current config documents": db["configs"].count_documents({"current": True}),
            "config history documents": db["configs"].count_documents({"current": False}),
        }
    finally:
        client.close()
    s3 = s3_client(settings, timeout_s=10.0, path_style=True)
    paginator = s3.get_paginator("list_objects_v2")

    def count(prefix: str) -> int:
        pages = paginator.paginate(Bucket=settings.s3_bucket, Prefix=prefix)
        return sum(len(page.get("Contents", [])) for page in pages)

    return {
        "postgres": postgres,
        "clickhouse": clickhouse,
        "mongo": mongo,
        "s3": {
            "archive objects": count(settings.archive_prefix + "/"),
            "evidence images": count("evidence/"),
        },
    }


def summarize(
    settings: SinkSettings, cameras: Sequence[str], since_us: int, wall_since_us: int
) -> Summary:
    """Read the run back from PostgreSQL, ClickHouse, MongoDB and S3.

    ``since_us`` is the run's first event time; ``wall_since_us`` when it started (S3 keys
    are per object, so objects are counted by when they were written).
    """
    crossings, ch_rows = clickhouse_counts(settings, cameras, since_us)
    alerts, pg_rows = postgres_counts(settings, cameras, since_us)
    return Summary(
        alerts_by_rule=alerts,
        crossings=crossings,
        rows={
            "postgres": pg_rows,
            "clickhouse": ch_rows,
            "mongo": mongo_counts(settings, cameras, since_us),
            "s3": s3_counts(settings, cameras, wall_since_us),
        },
        totals=store_totals(settings),
    )
