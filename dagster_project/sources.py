"""The platform in the asset graph: topics, the stores the sinks write, and their watermarks.

Topics and stores are external assets (``AssetSpec``): Dagster does not write them, it
observes them. ``sources_observer`` records rows, newest event time and lag of every store
as ``AssetObservation``s when they change; ``closed_hours_sensor`` requests the hourly
analytics of each hour once the detections' watermark has passed it plus the grace period
(``etl.analytics.closing``; detections are what every sensor event and heatmap cell comes from).
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetKey,
    AssetObservation,
    AssetSpec,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from dagster_project.analytics import HOURLY_ASSETS
from dagster_project.analytics_settings import AnalyticsSettings, analytics_settings, clickhouse, s3
from dagster_project.domain import Domain
from dagster_project.partitions import HOURLY
from dagster_project.resources import PlatformResource
from etl.analytics import closing, sql
from schemas import catalog

GROUP = "sources"
# store asset -> (topic it comes from, description)
STORES: dict[str, tuple[str, str]] = {
    "clickhouse/detections": (catalog.DETECTIONS, "ClickHouse detections: one row per object"),
    "clickhouse/sensor_events": (catalog.SENSOR_EVENTS, "ClickHouse sensor_events"),
    "clickhouse/alerts": (catalog.ALERTS, "ClickHouse alerts (latest state per alert)"),
    "mongo/detections": (catalog.DETECTIONS, "MongoDB detections: one document per frame"),
    "postgres/alerts": (catalog.ALERTS, "PostgreSQL alerts: one row per alert"),
    "postgres/feedback": (catalog.FEEDBACK, "PostgreSQL feedback: operator verdicts"),
    "s3/archive": ("*", "S3 Avro archive of every topic"),
    "s3/evidence": (catalog.FRAMES, "S3 evidence images uploaded by the edge"),
}
ARCHIVED = (catalog.FRAMES, catalog.DETECTIONS, catalog.SENSOR_EVENTS, catalog.ALERTS)


def topic_key(topic: str) -> AssetKey:
    return AssetKey(["kafka", topic])


def _topics() -> list[str]:
    return sorted({t for t, _ in STORES.values() if t != "*"} | set(ARCHIVED))


TOPIC_SPECS = [
    AssetSpec(topic_key(t), group_name=GROUP, description=f"Kafka topic {t}", kinds={"kafka"})
    for t in _topics()
]
STORE_SPECS = [
    AssetSpec(
        AssetKey(name.split("/")),
        group_name=GROUP,
        description=desc,
        deps=[topic_key(t) for t in (ARCHIVED if topic == "*" else (topic,))],
        kinds={name.split("/")[0]},
    )
    for name, (topic, desc) in STORES.items()
]

Observation = tuple[int, datetime | None]  # rows, newest event time


def _ch(table: str, column: str) -> Callable[[AnalyticsSettings], Observation]:
    def read(s: AnalyticsSettings) -> Observation:
        client = clickhouse(s)
        try:
            db = sql.ident(s.clickhouse_database)
            rows = client.query(
                f"SELECT count(), if(count() = 0, NULL, max({column})) FROM {db}.{table}"
            ).result_rows
        finally:
            client.close()
        n, newest = rows[0]
        return int(n), None if newest is None else newest.replace(tzinfo=UTC)

    return read


def _pg(table: str, column: str) -> Callable[[AnalyticsSettings], Observation]:
    def read(s: AnalyticsSettings) -> Observation:
        import psycopg

        with psycopg.connect(s.postgres_dsn.get_secret_value(), connect_timeout=10) as conn:
            row = conn.execute(f"SELECT count(*), max({column}) FROM {table}").fetchone()
        assert row is not None
        return int(row[0]), row[1]

    return read


def _mongo(s: AnalyticsSettings) -> Observation:
    import pymongo

    uri = s.mongo_uri.get_secret_value()
    client: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000) as client:
        coll: Any = client[s.mongo_database]["detections"]
        newest = coll.find_one({}, sort=[("frame_ts", pymongo.DESCENDING)])
        n = coll.estimated_document_count()
    ts = None if newest is None else newest["frame_ts"].replace(tzinfo=UTC)
    return int(n), ts


def _s3(prefix: str) -> Callable[[AnalyticsSettings], Observation]:
    def read(s: AnalyticsSettings) -> Observation:
        client = s3(s)
        n, newest = 0, None
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=s.s3_bucket, Prefix=f"{prefix}/"
        )
        for page in pages:
            for obj in page.get("Contents", []):
                n += 1
                newest = obj["LastModified"] if newest is None else max(newest, obj["LastModified"])
        return n, newest

    return read


def readers(s: AnalyticsSettings) -> dict[str, Callable[[AnalyticsSettings], Observation]]:
    return {
        "clickhouse/detections": _ch("detections", "frame_ts"),
        "clickhouse/sensor_events": _ch("sensor_events", "ts"),
        "clickhouse/alerts": _ch("alerts", "updated_ts"),
        "mongo/detections": _mongo,
        "postgres/alerts": _pg("alerts", "updated_ts"),
        "postgres/feedback": _pg("feedback", "ts"),
        "s3/archive": _s3(s.archive_prefix),
        "s3/evidence": _s3("evidence"),
    }


def observe(s: AnalyticsSettings, names: list[str] | None = None) -> dict[str, Observation]:
    """Rows and newest event time of each store (a store that cannot be read is left out)."""
    out: dict[str, Observation] = {}
    for name, read in readers(s).items():
        if names is not None and name not in names:
            continue
        try:
            out[name] = read(s)
        except Exception as exc:  # an unreachable store is reported, the others still observed
            import logging

            logging.getLogger(__name__).warning("cannot observe %s: %s", name, exc)
    return out


@sensor(
    name="sources_observer",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Observes rows, newest event time and lag of every store the sinks write.",
)
def sources_observer(context: SensorEvaluationContext, platform: PlatformResource) -> SensorResult:
    seen: dict[str, list[Any]] = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(UTC)
    events = []
    for name, (rows, newest) in observe(analytics_settings(platform.data_dir)).items():
        state = [rows, None if newest is None else newest.isoformat()]
        if seen.get(name) == state:
            continue
        seen[name] = state
        meta: dict[str, Any] = {"rows": MetadataValue.int(rows)}
        if newest is not None:
            meta["newest_event_time"] = MetadataValue.text(newest.isoformat())
            meta["lag_s"] = MetadataValue.float((now - newest).total_seconds())
        events.append(AssetObservation(asset_key=AssetKey(name.split("/")), metadata=meta))
    return SensorResult(asset_events=events, cursor=json.dumps(seen, sort_keys=True))


hourly_analytics_job = define_asset_job(
    "hourly_analytics", selection=HOURLY_ASSETS, partitions_def=HOURLY
)
CLOCK_SOURCE = "clickhouse/detections"


def first_event(s: AnalyticsSettings) -> datetime | None:
    client = clickhouse(s)
    try:
        db = sql.ident(s.clickhouse_database)
        rows = client.query(
            f"SELECT if(count() = 0, NULL, min(frame_ts)) FROM {db}.detections"
        ).result_rows
    finally:
        client.close()
    return None if rows[0][0] is None else rows[0][0].replace(tzinfo=UTC)


@sensor(
    name="closed_hours_sensor",
    job=hourly_analytics_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests the hourly analytics of each hour once, when the detections' "
    "watermark has passed it plus the grace period (cursor: first hour not yet requested).",
)
def closed_hours_sensor(
    context: SensorEvaluationContext, platform: PlatformResource
) -> SensorResult | SkipReason:
    s = analytics_settings(platform.data_dir)
    marks = {name: newest for name, (_, newest) in observe(s, [CLOCK_SOURCE]).items()}
    if CLOCK_SOURCE not in marks:
        return SkipReason(f"{CLOCK_SOURCE} cannot be read")
    first = None if context.cursor else first_event(s)
    hours, cursor = closing.plan(
        context.cursor, marks, timedelta(seconds=s.etl_grace_s), first_data=first
    )
    if not hours:
        return SkipReason("no newly closed hour")
    keys = [HOURLY.get_partition_key_for_timestamp(h.timestamp()) for h in hours]
    return SensorResult(
        run_requests=[RunRequest(run_key=f"hourly-{k}", partition_key=k) for k in keys],
        cursor=cursor,
    )


DOMAIN = Domain(
    assets=[*TOPIC_SPECS, *STORE_SPECS],
    sensors=[sources_observer, closed_hours_sensor],
    jobs=[hourly_analytics_job],
)
