"""Automation: the declarative-automation sensor, daily schedules and the late-data sensor.

Every sensor and schedule here is on by default (``DefaultSensorStatus.RUNNING``), so a fresh
local stack materializes on its own. Hourly assets carry their ``AutomationCondition`` (the
daemon's automation sensor below evaluates them); the daily ``lake_parquet`` and
``retention`` run from schedules; ``late_archive_data`` reruns an hour whose archive got
records after the hour was materialized.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetKey,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    build_schedule_from_partitioned_job,
    define_asset_job,
    schedule,
    sensor,
)

from dagster_project.domain import Domain
from dagster_project.lake_io import ARCHIVED_TOPICS, Stores, settings
from dagster_project.partitions import HOURLY
from dagster_project.retention import RetentionConfig
from etl.lake.archive import day_prefix, parse_key
from etl.lake.late import late_hours

LATE_LOOKBACK_DAYS = 2
"""How far back the late-data sensor lists the archive."""

HOURLY_REDO = ("archive_manifest", "sensor_hourly", "camera_hourly", "occupancy_heatmap")
"""Hourly assets a late hour reruns (those the code location defines)."""

retention_job = define_asset_job("retention_daily", selection=AssetSelection.assets("retention"))

lake_daily_schedule = build_schedule_from_partitioned_job(
    define_asset_job("lake_parquet_daily", selection=AssetSelection.assets("lake_parquet")),
    hour_of_day=1,
    minute_of_hour=30,
    default_status=DefaultScheduleStatus.RUNNING,
)


@schedule(
    job=retention_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
def retention_schedule() -> RunRequest:
    """Apply the policy each night (for real: the schedule is the decision to delete)."""
    return RunRequest(run_config=RunConfig(ops={"retention": RetentionConfig(dry_run=False)}))


automation_sensor = AutomationConditionSensorDefinition(
    "vidsight_automation",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)


def _materialized_hours(context: SensorEvaluationContext) -> dict[datetime, datetime]:
    """When each archive_manifest hour was last materialized."""
    records = context.instance.fetch_materializations(
        AssetKey("archive_manifest"), limit=24 * LATE_LOOKBACK_DAYS * 4, ascending=False
    ).records
    out: dict[datetime, datetime] = {}
    for r in records:
        key = r.partition_key
        if key is None:
            continue
        hour = datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
        out.setdefault(hour, datetime.fromtimestamp(r.timestamp, UTC))
    return out


@sensor(
    name="late_archive_data",
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    asset_selection=AssetSelection.assets("archive_manifest"),
    description="Reruns an hour whose archive received records after the hour was "
    "materialized (cursor: the newest archive object already seen).",
)
def late_archive_data(context: SensorEvaluationContext) -> SensorResult:
    s = settings()
    stores = Stores(s)
    now = datetime.now(UTC)
    objects = []
    for days_back in range(LATE_LOOKBACK_DAYS):
        day = now - timedelta(days=days_back)
        for topic in ARCHIVED_TOPICS:
            for obj in _list(stores, day_prefix(s.archive_prefix, topic, day)):
                key = parse_key(s.archive_prefix, obj["Key"])
                if key is not None:
                    objects.append((key.hour, obj["LastModified"].astimezone(UTC)))
    cursor = datetime.fromisoformat(context.cursor) if context.cursor else None
    hours, newest = late_hours(objects, _materialized_hours(context), cursor)
    new_cursor = newest.isoformat() if newest else context.cursor
    if not hours:
        return SensorResult(skip_reason="no late archive data", cursor=new_cursor)
    keys = [AssetKey(k) for k in HOURLY_REDO if _defined(context, k)]
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"late-{h:%Y-%m-%d-%H}-{new_cursor}",
                partition_key=HOURLY.get_partition_key_for_timestamp(h.timestamp()),
                asset_selection=keys,
            )
            for h in hours
        ],
        cursor=new_cursor,
    )


def _defined(context: SensorEvaluationContext, name: str) -> bool:
    repo = context.repository_def
    return repo is None or repo.asset_graph.has(AssetKey(name))


def _list(stores: Stores, prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in stores.s3.get_paginator("list_objects_v2").paginate(
        Bucket=stores.settings.s3_bucket, Prefix=prefix
    ):
        out += page.get("Contents", [])
    return out


DOMAIN = Domain(
    sensors=[automation_sensor, late_archive_data],
    schedules=[lake_daily_schedule, retention_schedule],
    jobs=[retention_job],
)
