"""Daily analytics: camera_health, alert_quality and storage_usage (UTC daily partitions).

Reads happen here (PostgreSQL, the S3 archive, ClickHouse, MongoDB); the judgements are the
pure functions of ``etl.analytics.health``, ``quality`` and ``storage``. Each asset replaces
its day's rows in ClickHouse.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from dagster_project.analytics_settings import AnalyticsSettings, analytics_settings, clickhouse, s3
from dagster_project.domain import Domain
from dagster_project.partitions import DAILY
from dagster_project.resources import PlatformResource
from etl.analytics import health, quality, sql, storage
from schemas import catalog
from sinks.archive import ArchiveReader, day_prefix

GROUP = "daily"


def _day(context: AssetExecutionContext) -> datetime:
    start: datetime = context.partition_time_window.start
    return start.astimezone(UTC)


def _replace_day(s: AnalyticsSettings, table: str, day: datetime, rows: list[list[Any]]) -> None:
    cols = sql.columns(table)
    client = clickhouse(s)
    try:
        client.command(sql.delete_period(s.clickhouse_database, table, day))
        if rows:
            client.insert(f"{sql.ident(s.clickhouse_database)}.{table}", rows, column_names=cols)
    finally:
        client.close()


def _frame_times(s: AnalyticsSettings, day: datetime) -> dict[str, list[int]]:
    """Frame times (UTC microseconds) per camera from the day's archived FrameRefs."""
    archive = ArchiveReader(s3(s), s.s3_bucket, s.archive_prefix)
    out: dict[str, list[int]] = defaultdict(list)
    for key, _ in archive.objects(day_prefix(s.archive_prefix, catalog.FRAMES, day)):
        for m in archive.messages(key):
            if m.key is not None:
                out[m.key.decode()].append(m.timestamp_ms * 1000)
    return out


@asset(
    key="camera_health",
    group_name=GROUP,
    partitions_def=DAILY,
    deps=[AssetKey(["s3", "archive"]), AssetKey(["clickhouse", "detections"])],
    description="Per camera and day: frames vs the configured fps, uptime, gaps (start and "
    "length), detection-rate outlier hours (ClickHouse camera_health_daily).",
)
def camera_health(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    import psycopg

    s = analytics_settings(platform.data_dir)
    day = _day(context)
    with psycopg.connect(s.postgres_dsn.get_secret_value(), connect_timeout=10) as conn:
        rows_fps = conn.execute("SELECT camera_id, fps FROM cameras WHERE enabled").fetchall()
    fps: dict[str, float] = {str(c): float(f) for c, f in rows_fps}
    frames = _frame_times(s, day)
    client = clickhouse(s)
    try:
        hits = client.query(
            "SELECT camera_id, groupUniqArray(toUnixTimestamp64Micro(frame_ts)) FROM "
            f"{sql.ident(s.clickhouse_database)}.detections WHERE frame_ts >= "
            f"{sql.ts(day)} AND frame_ts < {sql.ts(day + timedelta(days=1))} GROUP BY camera_id"
        ).result_rows
    finally:
        client.close()
    detected = {str(c): list(t) for c, t in hits}
    rows, lines = [], []
    for camera in sorted(set(fps) | set(frames)):
        h = health.day_health(
            camera, day, float(fps.get(camera, 0.0)), frames.get(camera, []),
            detected.get(camera, []), gap_min_s=s.health_gap_s,
        )  # fmt: skip
        longest = h.longest_gap
        rows.append(
            [day.date(), camera, h.fps_configured, h.frames, h.expected_frames, h.uptime,
             len(h.gaps), h.gap_seconds,
             None if longest is None else datetime.fromtimestamp(longest.start_us / 1e6, UTC),
             0.0 if longest is None else longest.length_s, h.detection_rate,
             list(h.outlier_hours)]
        )  # fmt: skip
        lines.append(f"| {camera} | {h.uptime:.1%} | {len(h.gaps)} | {h.frames} |")
    _replace_day(s, "camera_health_daily", day, rows)
    return MaterializeResult(
        metadata={
            "cameras": MetadataValue.int(len(rows)),
            "health": MetadataValue.md(
                "| camera | uptime | gaps | frames |\n|---|---|---|---|\n" + "\n".join(lines)
            ),
        }
    )


@asset(
    key="alert_quality",
    group_name=GROUP,
    partitions_def=DAILY,
    deps=[AssetKey(["postgres", "alerts"]), AssetKey(["postgres", "feedback"])],
    description="Reviewed share, precision = confirmed / reviewed, false positives by camera, "
    "rule and reason, the ten noisiest cameras (ClickHouse alert_quality_daily).",
)
def alert_quality(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    import psycopg

    s = analytics_settings(platform.data_dir)
    day = _day(context)
    with psycopg.connect(s.postgres_dsn.get_secret_value(), connect_timeout=10) as conn:
        alerts = [
            quality.AlertRow(str(a), c, r)
            for a, c, r in conn.execute(
                "SELECT alert_id, camera_id, rule FROM alerts WHERE start_ts >= %s "
                "AND start_ts < %s",
                (day, day + timedelta(days=1)),
            ).fetchall()
        ]
        verdicts = [
            quality.Verdict(str(a), v, t.timestamp(), n)
            for a, v, t, n in conn.execute(
                "SELECT alert_id, verdict, ts, note FROM feedback WHERE alert_id = ANY(%s)",
                ([a.alert_id for a in alerts],),
            ).fetchall()
        ]
    q = quality.quality(alerts, verdicts)
    rows = [
        [day.date(), r.camera_id, r.rule, r.reason, r.alerts, r.reviewed, r.confirmed,
         r.false_positives]
        for r in q.rows
    ]  # fmt: skip
    _replace_day(s, "alert_quality_daily", day, rows)
    return MaterializeResult(
        metadata={
            "alerts": MetadataValue.int(q.alerts),
            "reviewed_share": MetadataValue.float(q.reviewed_share or 0.0),
            "precision": MetadataValue.float(q.precision or 0.0),
            "noisiest_cameras": MetadataValue.md(quality.markdown(quality.noisiest(q))),
        }
    )


def _usage(s: AnalyticsSettings) -> list[storage.Usage]:
    import pymongo

    client = s3(s)
    listing = [
        (o["Key"], int(o["Size"]))
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=s.s3_bucket)
        for o in page.get("Contents", [])
    ]
    out = storage.s3_usage(listing, s.archive_prefix)
    ch = clickhouse(s)
    try:
        parts = ch.query(
            "SELECT table, sum(bytes_on_disk), sum(rows) FROM system.parts WHERE active "
            "AND database = {db:String} GROUP BY table ORDER BY table",
            parameters={"db": s.clickhouse_database},
        ).result_rows
    finally:
        ch.close()
    out += [storage.Usage("clickhouse", t, storage.ALL, int(b), int(n)) for t, b, n in parts]
    mongo: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(
        s.mongo_uri.get_secret_value(), serverSelectionTimeoutMS=10000
    ) as mongo:
        db: Any = mongo[s.mongo_database]
        for name in sorted(db.list_collection_names()):
            stats = db.command("collStats", name)
            out.append(
                storage.Usage("mongo", name, storage.ALL, int(stats.get("storageSize", 0)),
                              int(stats.get("count", 0)))
            )  # fmt: skip
    return out


@asset(
    key="storage_usage",
    group_name=GROUP,
    partitions_def=DAILY,
    deps=[AssetKey(["s3", "archive"]), AssetKey(["s3", "evidence"])],
    description="Bytes per store, object and camera: S3 prefixes, ClickHouse parts, MongoDB "
    "collections (ClickHouse storage_usage). The local broker reports no topic sizes.",
)
def storage_usage(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    s = analytics_settings(platform.data_dir)
    day = _day(context)
    usage = _usage(s)
    rows = [[day.date(), u.store, u.object, u.camera_id, u.bytes, u.items] for u in usage]
    _replace_day(s, "storage_usage", day, rows)
    totals = storage.total(usage)
    return MaterializeResult(
        metadata={f"{store}_bytes": MetadataValue.int(b) for store, b in totals.items()}
    )


DOMAIN = Domain(assets=[camera_health, alert_quality, storage_usage])
