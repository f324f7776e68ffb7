"""Asset checks: the archive is complete, the stores and rollups agree, nothing is stale.

``archive_complete`` blocks: a run materializing ``archive_manifest`` stops before
``lake_parquet`` and ``retention`` when the archive is short, and names the topic, partition
and hour. The others report. Checks on the analytics and source assets name them by
``AssetKey`` (those assets live in other domain modules).
"""

import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)
from dagster._utils.warnings import PreviewWarning

from dagster_project.analytics_settings import analytics_settings
from dagster_project.domain import Domain
from dagster_project.lake_io import Stores, archive_shortfalls, settings
from dagster_project.partitions import HOURLY
from dagster_project.resources import PlatformResource
from etl import freshness

SOURCES = [
    AssetKey(["clickhouse", "detections"]),
    AssetKey(["clickhouse", "sensor_events"]),
    AssetKey(["clickhouse", "alerts"]),
    AssetKey(["mongo", "detections"]),
    AssetKey(["postgres", "alerts"]),
    AssetKey(["postgres", "feedback"]),
    AssetKey(["s3", "archive"]),
    AssetKey(["s3", "evidence"]),
]
RECENT_HOURS = 24
"""Closed hours the unpartitioned agreement checks look at."""


def _partitioned_check(
    **kwargs: Any,
) -> Callable[[Callable[..., AssetCheckResult]], AssetChecksDefinition]:
    """``asset_check`` with a partitions_def, without the "preview" warning this Dagster
    release gives partitioned checks (the partition is what names the hour)."""

    def wrap(fn: Callable[..., AssetCheckResult]) -> AssetChecksDefinition:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PreviewWarning)
            return asset_check(**kwargs)(fn)

    return wrap


def _hour(context: AssetCheckExecutionContext) -> datetime:
    key = context.partition_key
    return datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)


@_partitioned_check(
    asset="archive_manifest",
    partitions_def=HOURLY,
    blocking=True,
    description="Every offset the archive sink consumed is in the S3 archive: no hole in "
    "a partition's offsets around the hour, nothing lost since the manifest recorded it.",
)
def archive_complete(
    context: AssetCheckExecutionContext,
    platform: PlatformResource,
) -> AssetCheckResult:
    hour = _hour(context)
    stores = Stores(settings(platform.data_dir))
    try:
        short = archive_shortfalls(stores, hour)
    finally:
        stores.close()
    lines = [s.describe() for s in short]
    return AssetCheckResult(
        passed=not short,
        description="; ".join(lines[:20]) or f"archive of {hour:%Y-%m-%d %H}:00 complete",
        metadata={
            "short_partitions": MetadataValue.int(len(short)),
            "missing_records": MetadataValue.int(sum(s.missing for s in short)),
            "details": MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
        },
    )


def _recent_hours(now: datetime) -> tuple[datetime, datetime]:
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return end - timedelta(hours=RECENT_HOURS), end


@asset_check(
    asset=AssetKey(["clickhouse", "detections"]),
    description="detections_hourly (the materialized view) equals counts of the raw rows, per "
    "camera, label and hour, over the last closed hours.",
)
def rollups_match_raw(platform: PlatformResource) -> AssetCheckResult:
    stores = Stores(settings(platform.data_dir))
    db = stores.settings.clickhouse_database
    start, end = _recent_hours(datetime.now(UTC))
    try:
        rows = stores.query(
            f"""
            SELECT hour, camera_id, label, raw, rolled FROM (
              SELECT toStartOfHour(frame_ts) AS hour, camera_id, label, count() AS raw
              FROM {db}.detections FINAL
              WHERE frame_ts >= {{s:DateTime}} AND frame_ts < {{e:DateTime}} GROUP BY ALL
            ) AS r FULL OUTER JOIN (
              SELECT hour, camera_id, label, sum(objects) AS rolled FROM {db}.detections_hourly
              WHERE hour >= {{s:DateTime}} AND hour < {{e:DateTime}} GROUP BY ALL
            ) AS h USING (hour, camera_id, label)
            WHERE raw != rolled ORDER BY hour, camera_id, label LIMIT 50""",
            s=start,
            e=end,
        )
    finally:
        stores.close()
    return AssetCheckResult(
        passed=not rows,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(f"{h} {c} {lab}: raw {r} vs rollup {u}" for h, c, lab, r, u in rows)
        or "rollups match",
        metadata={"mismatches": MetadataValue.int(len(rows))},
    )


@asset_check(
    asset=AssetKey("occupancy_heatmap"),
    description="heatmap_cells sum to the detections of each camera-hour (the last closed "
    "hours that have cells).",
)
def heatmap_sums(platform: PlatformResource) -> AssetCheckResult:
    start, end = _recent_hours(datetime.now(UTC))
    stores = Stores(settings(platform.data_dir))
    db = stores.settings.clickhouse_database
    try:
        rows = stores.query(
            f"""
            SELECT hour, camera_id, d, c FROM (
              SELECT hour, camera_id, sum(detections) AS c FROM {db}.heatmap_cells
              WHERE hour >= {{s:DateTime}} AND hour < {{e:DateTime}} GROUP BY ALL
            ) AS b LEFT JOIN (
              SELECT toStartOfHour(frame_ts) AS hour, camera_id, count() AS d
              FROM {db}.detections FINAL
              WHERE frame_ts >= {{s:DateTime}} AND frame_ts < {{e:DateTime}} GROUP BY ALL
            ) AS a USING (hour, camera_id) WHERE d != c ORDER BY hour, camera_id LIMIT 50""",
            s=start,
            e=end,
        )
    finally:
        stores.close()
    return AssetCheckResult(
        passed=not rows,
        description="; ".join(f"{h} {c}: detections {d} vs cells {n}" for h, c, d, n in rows)
        or "cells sum to the detections",
    )


@asset_check(
    asset=AssetKey(["mongo", "detections"]),
    description="Per closed hour and camera: frames in ClickHouse detections = frame documents "
    "in MongoDB (frames with objects; the archive's records are checked by archive_complete).",
)
def stores_agree(platform: PlatformResource) -> AssetCheckResult:
    import pymongo

    s = settings(platform.data_dir)
    stores = Stores(s)
    start, end = _recent_hours(datetime.now(UTC))
    try:
        ch = {
            (h.replace(tzinfo=None), str(c)): int(n)
            for h, c, n in stores.query(
                f"SELECT toStartOfHour(frame_ts) AS h, camera_id, uniqExact(event_id) "
                f"FROM {s.clickhouse_database}.detections "
                "WHERE frame_ts >= {s:DateTime} AND frame_ts < {e:DateTime} GROUP BY h, camera_id",
                s=start,
                e=end,
            )
        }
    finally:
        stores.close()
    client: Any
    with pymongo.MongoClient(s.mongo_uri.get_secret_value()) as client:
        docs = client[s.mongo_database]["detections"].aggregate(
            [
                {"$match": {"frame_ts": {"$gte": start, "$lt": end}, "object_count": {"$gt": 0}}},
                {
                    "$group": {
                        "_id": {
                            "h": {"$dateTrunc": {"date": "$frame_ts", "unit": "hour"}},
                            "c": "$camera_id",
                        },
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
        mongo = {(d["_id"]["h"].replace(tzinfo=None), str(d["_id"]["c"])): d["n"] for d in docs}
    differ = sorted(k for k in ch.keys() | mongo.keys() if ch.get(k, 0) != mongo.get(k, 0))
    return AssetCheckResult(
        passed=not differ,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(
            f"{h:%Y-%m-%d %H}:00 {c}: clickhouse {ch.get((h, c), 0)} mongo {mongo.get((h, c), 0)}"
            for h, c in differ[:50]
        )
        or "stores agree",
        metadata={"mismatches": MetadataValue.int(len(differ))},
    )


NULL_KEYS = {
    "sensor_hourly": ("sensor_hourly", "hour", ("camera_id", "sensor_id")),
    "camera_hourly": ("camera_hourly", "hour", ("camera_id", "label")),
    "occupancy_heatmap": ("heatmap_cells", "hour", ("camera_id",)),
}
"""Asset -> (table, hour column, key columns) that must never be empty or null."""


def _null_key_check(asset_name: str) -> AssetChecksDefinition:
    table, hour_col, keys = NULL_KEYS[asset_name]

    @asset_check(
        asset=AssetKey(asset_name),
        name=f"no_null_keys_{table}",
        description=f"No row of {table} in the last closed hours has an empty or null "
        f"{', '.join(keys)}.",
    )
    def _check(platform: PlatformResource) -> AssetCheckResult:
        start, end = _recent_hours(datetime.now(UTC))
        stores = Stores(settings(platform.data_dir))
        where = " OR ".join(f"isNull({k}) OR toString({k}) = ''" for k in keys)
        try:
            [(bad,)] = stores.query(
                f"SELECT count() FROM {stores.settings.clickhouse_database}.{table} "
                f"WHERE {hour_col} >= {{s:DateTime}} AND {hour_col} < {{e:DateTime}} "
                f"AND ({where})",
                s=start,
                e=end,
            )
        finally:
            stores.close()
        return AssetCheckResult(passed=bad == 0, metadata={"null_keys": MetadataValue.int(bad)})

    return _check


FRESHNESS_LAG = timedelta(hours=2)
"""How old a source's newest event may be while cameras are active."""


def _cameras(platform: PlatformResource) -> list[freshness.Camera]:
    import psycopg

    s = analytics_settings(platform.data_dir)
    with psycopg.connect(s.postgres_dsn.get_secret_value(), connect_timeout=10) as conn:
        rows = conn.execute("SELECT camera_id, enabled, fps FROM cameras").fetchall()
    return [freshness.Camera(str(c), bool(e), float(f)) for c, e, f in rows]


def _freshness_check(key: AssetKey) -> AssetChecksDefinition:
    name = "/".join(key.path)

    @asset_check(
        asset=key,
        name="freshness",
        description=f"The newest event in {name} is at most {FRESHNESS_LAG} old while a "
        "camera is active (enabled, fps above 0); skipped while none is.",
    )
    def _check(platform: PlatformResource) -> AssetCheckResult:
        from dagster_project.sources import readers

        active = freshness.active_cameras(_cameras(platform))
        newest = None
        if active:  # no store read when no data is expected
            s = analytics_settings(platform.data_dir)
            _rows, newest = readers(s)[name](s)
        v = freshness.judge(name, newest, datetime.now(UTC), FRESHNESS_LAG, active)
        meta: dict[str, Any] = {"skipped": MetadataValue.bool(v.skipped)}
        if v.lag_s is not None:
            meta["lag_s"] = MetadataValue.float(v.lag_s)
        return AssetCheckResult(
            passed=v.passed, severity=AssetCheckSeverity.WARN, description=v.description,
            metadata=meta,
        )  # fmt: skip

    return _check


FRESHNESS = [_freshness_check(key) for key in SOURCES]

CHECKS = [
    archive_complete,
    rollups_match_raw,
    heatmap_sums,
    stores_agree,
    *(_null_key_check(name) for name in NULL_KEYS),
    *FRESHNESS,
]


DOMAIN = Domain(asset_checks=CHECKS)
