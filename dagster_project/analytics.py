"""Hourly analytics: sensor_hourly, camera_hourly, occupancy_heatmap and count_anomalies.

Each asset replaces its hour's rows in ClickHouse with one INSERT ... SELECT that runs where the
data lives (``etl.analytics.sql``); the Python parts (pictures, anomaly scores) are pure
functions in ``etl.analytics``. Hourly UTC partitions; the camera is a column.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from dagster_project.analytics_settings import AnalyticsSettings, analytics_settings, clickhouse, s3
from dagster_project.domain import Domain
from dagster_project.partitions import HOURLY
from dagster_project.resources import PlatformResource
from etl.analytics import anomalies, heatmap, sql

log = logging.getLogger(__name__)
GROUP = "analytics"
CH_DETECTIONS = AssetKey(["clickhouse", "detections"])
CH_SENSOR_EVENTS = AssetKey(["clickhouse", "sensor_events"])
CH_ALERTS = AssetKey(["clickhouse", "alerts"])
S3_EVIDENCE = AssetKey(["s3", "evidence"])


def replace_hour(settings: AnalyticsSettings, table: str, hour: datetime) -> int:
    """Run the hour's delete-then-insert of ``table``; the rows it now holds for the hour."""
    build = {
        "sensor_hourly": sql.sensor_hourly,
        "camera_hourly": sql.camera_hourly,
        "heatmap_cells": sql.heatmap_cells,
    }[table]
    db = settings.clickhouse_database
    client = clickhouse(settings)
    try:
        for statement in sql.replace_hour(db, table, hour, build(db, hour)):
            client.command(statement)
        rows = client.query(
            f"SELECT count() FROM {sql.ident(db)}.{table} WHERE hour = {sql.hour_literal(hour)}"
        ).result_rows
        return int(rows[0][0])
    finally:
        client.close()


def _hour(context: AssetExecutionContext) -> datetime:
    start: datetime = context.partition_time_window.start
    return start


@asset(
    key="sensor_hourly",
    group_name=GROUP,
    partitions_def=HOURLY,
    deps=[CH_SENSOR_EVENTS, CH_ALERTS],
    description="Per hour x camera x sensor: crossings per direction, entries, exits, "
    "max occupancy, dwell p50/p95, alerts (ClickHouse table sensor_hourly).",
)
def sensor_hourly(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    rows = replace_hour(analytics_settings(platform.data_dir), "sensor_hourly", _hour(context))
    return MaterializeResult(metadata={"rows": MetadataValue.int(rows)})


@asset(
    key="camera_hourly",
    group_name=GROUP,
    partitions_def=HOURLY,
    deps=[CH_DETECTIONS],
    description="Per hour x camera x label: objects, distinct tracks, mean score, frames "
    "analysed, frames with detections (ClickHouse table camera_hourly).",
)
def camera_hourly(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    rows = replace_hour(analytics_settings(platform.data_dir), "camera_hourly", _hour(context))
    return MaterializeResult(metadata={"rows": MetadataValue.int(rows)})


def _background(s3_client: Any, bucket: str, uri: str | None) -> Any:
    """The evidence frame at ``uri`` as an RGB array, or None when there is none."""
    if not uri or not uri.startswith(f"s3://{bucket}/"):
        return None
    import cv2
    import numpy as np

    try:
        body = s3_client.get_object(Bucket=bucket, Key=uri[len(f"s3://{bucket}/") :])["Body"]
        img = cv2.imdecode(np.frombuffer(body.read(), np.uint8), cv2.IMREAD_COLOR)
    except Exception as exc:  # a missing or unreadable frame only loses the background
        log.warning("evidence frame %s unreadable: %s", uri, exc)
        return None
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _put_png(s3_client: Any, bucket: str, key: str, image: Any) -> None:
    import cv2

    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {key}")
    s3_client.put_object(Bucket=bucket, Key=key, Body=png.tobytes(), ContentType="image/png")


def render_heatmaps(settings: AnalyticsSettings, hour: datetime) -> list[str]:
    """Write the hour's and the day-so-far's PNG per camera; the keys written."""
    db = settings.clickhouse_database
    day = hour.replace(hour=0)
    day_hours = [day + timedelta(hours=h) for h in range(hour.hour + 1)]
    client = clickhouse(settings)
    try:
        hour_rows = client.query(sql.heatmap_of(db, [hour])).result_rows
        day_rows = client.query(sql.heatmap_of(db, day_hours)).result_rows
        evidence = client.query(sql.latest_evidence(db, day, hour + timedelta(hours=1)))
        latest: dict[str, str] = {str(r[0]): str(r[1]) for r in evidence.result_rows}
    finally:
        client.close()
    store = s3(settings)
    keys: list[str] = []
    for rows, when in ((hour_rows, hour), (day_rows, None)):
        per_camera: dict[str, list[tuple[int, int, int]]] = {}
        for camera, gx, gy, n in rows:
            per_camera.setdefault(camera, []).append((gx, gy, n))
        for camera, counts in sorted(per_camera.items()):
            bg = _background(store, settings.s3_bucket, latest.get(camera))
            key = heatmap.png_key(camera, when, day)
            _put_png(store, settings.s3_bucket, key, heatmap.render(heatmap.grid(counts), bg))
            keys.append(key)
    return keys


@asset(
    key="occupancy_heatmap",
    group_name=GROUP,
    partitions_def=HOURLY,
    deps=[CH_DETECTIONS, S3_EVIDENCE],
    description="Detections per 64 x 36 cell of each box's bottom-centre per camera-hour "
    "(ClickHouse heatmap_cells) and PNGs at reports/heatmaps/<camera>/<yyyy>/<mm>/<dd>/<hh>.png "
    "and day.png, over the camera's latest evidence frame.",
)
def occupancy_heatmap(
    context: AssetExecutionContext, platform: PlatformResource
) -> MaterializeResult:  # type: ignore[type-arg]
    settings = analytics_settings(platform.data_dir)
    hour = _hour(context)
    rows = replace_hour(settings, "heatmap_cells", hour)
    keys = render_heatmaps(settings, hour)
    hourly = [k for k in keys if not k.endswith("day.png")]
    return MaterializeResult(
        metadata={
            "cells": MetadataValue.int(rows),
            "pngs": MetadataValue.md("\n".join(f"- `s3://{settings.s3_bucket}/{k}`" for k in keys)),
            "png": MetadataValue.text(f"s3://{settings.s3_bucket}/{hourly[0]}" if hourly else ""),
        }
    )


def publish(settings: AnalyticsSettings, alerts: list[Any]) -> None:
    """Publish Alert records to vidsight.alerts (keyed by camera) and wait for delivery."""
    from confluent_kafka import Producer

    from schemas import catalog
    from schemas.records import Alert
    from schemas.serde import Serde

    codec = Serde.for_registry(settings).topic(catalog.ALERTS, Alert)
    producer = Producer(settings.kafka_client_config())
    errors: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for alert in alerts:
        producer.produce(
            catalog.ALERTS, key=alert.camera_id.encode(), value=codec.encode(alert),
            on_delivery=delivered,
        )  # fmt: skip
    if producer.flush(30) or errors:
        raise RuntimeError(f"count_anomaly alerts not delivered: {errors or 'timeout'}")


def find_anomalies(settings: AnalyticsSettings, hour: datetime) -> tuple[list[Any], list[Any]]:
    """(anomalies of the hour, the ones whose alert is neither recorded nor on the alerts table)."""
    db = settings.clickhouse_database
    client = clickhouse(settings)
    try:
        result = client.query(sql.anomaly_inputs(db, hour))
        rows = [
            (r[0], r[1], int(r[2]), dict(zip(sql.ANOMALY_METRICS, r[3:], strict=True)))
            for r in result.result_rows
        ]
        found = anomalies.find(
            hour, rows, threshold=settings.anomaly_threshold,
            min_weeks=settings.anomaly_min_weeks,
        )  # fmt: skip
        ids = [a.alert_id for a in found]
        known = {r[0] for r in client.query(sql.existing_alert_ids(db, hour)).result_rows}
        known |= {
            r[0] for r in client.query(sql.alerts_with_ids(db), parameters={"ids": ids}).result_rows
        }
    finally:
        client.close()
    return found, [a for a in found if a.alert_id not in known]


def record_anomalies(settings: AnalyticsSettings, hour: datetime, found: list[Any]) -> None:
    """Replace the hour's rows of ``anomalies`` by ``found``."""
    db = settings.clickhouse_database
    client = clickhouse(settings)
    try:
        client.command(sql.delete_period(db, "anomalies", hour))
        if found:
            client.insert(
                f"{sql.ident(db)}.anomalies",
                [
                    [
                        a.hour,
                        a.camera_id,
                        a.sensor_id,
                        a.metric,
                        a.value,
                        a.median,
                        a.mad,
                        a.score,
                        a.history_weeks,
                        a.alert_id,
                    ]
                    for a in found
                ],
                column_names=[
                    "hour",
                    "camera_id",
                    "sensor_id",
                    "metric",
                    "value",
                    "median",
                    "mad",
                    "score",
                    "history_weeks",
                    "alert_id",
                ],
            )
    finally:
        client.close()


@asset(
    key="count_anomalies",
    group_name=GROUP,
    partitions_def=HOURLY,
    deps=[AssetKey("sensor_hourly")],
    description="Counts per camera x sensor x metric against the same hour of the 4 weeks "
    "before (median/MAD robust z); each finding is a row of anomalies and a count_anomaly "
    "alert on vidsight.alerts, published once.",
)
def count_anomalies(
    context: AssetExecutionContext, platform: PlatformResource
) -> MaterializeResult:  # type: ignore[type-arg]
    settings = analytics_settings(platform.data_dir)
    hour = _hour(context)
    found, new = find_anomalies(settings, hour)
    # Published before recorded: recording first would lose an alert to a crash in between;
    # this way a crash only means the rerun publishes the same ids again, which sinks absorb.
    publish(settings, [m for a in new for m in anomalies.alerts(a, settings.anomaly_severity)])
    record_anomalies(settings, hour, found)
    table = "\n".join(
        f"| {a.camera_id} | {a.sensor_id} | {a.metric} | {a.value:g} | {a.median:g} "
        f"| {a.score:.2f} |"
        for a in found
    )
    return MaterializeResult(
        metadata={
            "anomalies": MetadataValue.int(len(found)),
            "published": MetadataValue.int(len(new)),
            "findings": MetadataValue.md(
                "| camera | sensor | metric | value | median | z |\n|---|---|---|---|---|---|\n"
                + table
            ),
        }
    )


HOURLY_ASSETS = [sensor_hourly, camera_hourly, occupancy_heatmap, count_anomalies]
DOMAIN = Domain(assets=HOURLY_ASSETS)
