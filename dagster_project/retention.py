"""The ``retention`` asset: each store's own expiry, and evidence deletion with an audit trail.

ClickHouse keeps ``detections`` ``detections_hot_days`` (a table TTL); MongoDB frame documents
expire through a TTL index on ``frame_ts`` and, because the local MongoDB-protocol server may
not run TTL monitors, the asset also deletes expired frame documents itself. The local S3
server (rclone serve s3) has no lifecycle rules, so evidence objects and recorded video
segments are deleted here (with the PostgreSQL ``recordings`` rows of deleted segments): dry run
unless the run config says otherwise, each decision a row of PostgreSQL ``retention_audit``.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from dagster_project.domain import Domain
from dagster_project.lake_io import Stores, settings
from dagster_project.resources import PlatformResource
from etl.retention.plan import (
    RECORDING_SPAN,
    Action,
    ConfirmedAlert,
    Decision,
    decide,
    parse_evidence,
    uri_key,
)

RECORDINGS_PREFIX = "recordings/"

AUDIT_DDL = (
    """CREATE TABLE IF NOT EXISTS retention_audit (
    run_id      text NOT NULL,
    ts          timestamptz NOT NULL,
    dry_run     boolean NOT NULL,
    store       text NOT NULL,
    object_key  text NOT NULL,
    camera_id   text,
    object_ts   timestamptz,
    bytes       bigint,
    action      text NOT NULL,
    reason      text NOT NULL,
    PRIMARY KEY (run_id, store, object_key)
)""",
    "COMMENT ON TABLE retention_audit IS 'What each retention run deleted or kept (and why); "
    "dry runs too.'",
    """CREATE TABLE IF NOT EXISTS retention_keep (
    object_key  text PRIMARY KEY,
    reason      text NOT NULL,
    who         text NOT NULL,
    ts          timestamptz NOT NULL DEFAULT now()
)""",
    "COMMENT ON TABLE retention_keep IS 'Keep flags: evidence retention never deletes a key "
    "named here (a key ending in / keeps everything under it).'",
)

CONFIRMED_SQL = """
SELECT a.alert_id::text, a.camera_id, a.start_ts, a.end_ts, a.evidence_uri
FROM alerts a
JOIN (SELECT DISTINCT ON (alert_id) alert_id, verdict FROM feedback ORDER BY alert_id, ts DESC) f
  ON f.alert_id = a.alert_id
WHERE f.verdict = 'true_positive'
"""


class RetentionConfig(Config):
    """Run config of ``retention`` (the UI's launchpad shows it)."""

    dry_run: bool = True
    """List what would be deleted (and audit it) without deleting anything."""


@asset(
    key="retention",
    group_name="lake",
    deps=["lake_parquet"],
    description="Applies the retention policy: ClickHouse TTL, MongoDB TTL index, and evidence "
    "objects and recorded video past their age deleted (never a confirmed alert's or a kept "
    "one, never a day the lake does not hold); dry run by default, audited in PostgreSQL "
    "retention_audit.",
)
def retention(
    context: AssetExecutionContext,
    config: RetentionConfig,
    platform: PlatformResource,
) -> MaterializeResult:  # type: ignore[type-arg]
    s = settings(platform.data_dir)
    stores = Stores(s)
    now = datetime.now(UTC)
    try:
        ttl = apply_store_ttls(stores, now, dry_run=config.dry_run)
        decisions = evidence_decisions(stores, now)
        deleted = act(stores, decisions, dry_run=config.dry_run)
        forget_recordings(stores, decisions, dry_run=config.dry_run)
        audit(stores, context.run_id, now, config.dry_run, decisions)
    finally:
        stores.close()
    delete = [d for d in decisions if d.action is Action.DELETE]
    listing = "\n".join(f"| {d.obj.key} | {d.action} | {d.reason} |" for d in decisions[:200])
    return MaterializeResult(
        metadata={
            "dry_run": MetadataValue.bool(config.dry_run),
            "expired": MetadataValue.int(len(delete)),
            "deleted": MetadataValue.int(deleted),
            "kept": MetadataValue.int(len(decisions) - len(delete)),
            "bytes_expired": MetadataValue.int(sum(d.obj.size for d in delete)),
            "store_ttls": MetadataValue.json(ttl),
            "decisions": MetadataValue.md("| key | action | reason |\n|---|---|---|\n" + listing),
        }
    )


def lake_days(stores: Stores) -> frozenset[date]:
    """Days the lake holds the frames and detections of (their evidence may go)."""
    from schemas import catalog

    held: list[set[date]] = []
    for topic in (catalog.FRAMES, catalog.DETECTIONS):
        days = set()
        for key, _ in stores.list_keys(f"{stores.settings.lake_prefix}/{topic}/dt="):
            part = key.split("/dt=", 1)[1][:10]
            days.add(date.fromisoformat(part))
        held.append(days)
    return frozenset(held[0] & held[1])


def confirmed_alerts(stores: Stores) -> list[ConfirmedAlert]:
    import psycopg

    bucket = stores.settings.s3_bucket
    with psycopg.connect(stores.settings.postgres_dsn.get_secret_value()) as conn:
        rows = conn.execute(CONFIRMED_SQL).fetchall()
    return [ConfirmedAlert(a, c, st, en, uri_key(uri, bucket)) for a, c, st, en, uri in rows]


def keep_flags(stores: Stores) -> list[str]:
    import psycopg

    with psycopg.connect(stores.settings.postgres_dsn.get_secret_value()) as conn:
        for statement in AUDIT_DDL:
            conn.execute(statement)
        return [k for (k,) in conn.execute("SELECT object_key FROM retention_keep").fetchall()]


def evidence_decisions(stores: Stores, now: datetime) -> list[Decision]:
    """What the policy decides for every evidence object and recorded segment."""
    s = stores.settings
    objects = [
        o
        for key, size in stores.list_keys(s.evidence_prefix + "/")
        if (o := parse_evidence(key, size)) is not None
    ]
    videos = [
        o
        for key, size in stores.list_keys(RECORDINGS_PREFIX)
        if (o := parse_evidence(key, size, video=True)) is not None
    ]
    confirmed = confirmed_alerts(stores)
    keep = keep_flags(stores)
    days = lake_days(stores)
    common: dict[str, Any] = {
        "now": now,
        "policy": s.retention,
        "confirmed": confirmed,
        "keep": keep,
        "lake_days": days,
    }
    return decide(objects, **common) + decide(
        videos, **common, days=s.retention.recording_days, span=RECORDING_SPAN
    )


def forget_recordings(stores: Stores, decisions: list[Decision], *, dry_run: bool) -> int:
    """Delete the PostgreSQL ``recordings`` rows of deleted segments; returns how many."""
    import psycopg

    bucket = stores.settings.s3_bucket
    uris = [
        f"s3://{bucket}/{d.obj.key}"
        for d in decisions
        if d.action is Action.DELETE and d.obj.key.startswith(RECORDINGS_PREFIX)
    ]
    if dry_run or not uris:
        return 0
    with psycopg.connect(stores.settings.postgres_dsn.get_secret_value()) as conn:
        if conn.execute("SELECT to_regclass('recordings')").fetchone() == (None,):
            return 0
        cur = conn.execute("DELETE FROM recordings WHERE uri = ANY(%s)", (uris,))
        return cur.rowcount


def act(stores: Stores, decisions: list[Decision], *, dry_run: bool) -> int:
    """Delete the objects decided so (none in a dry run); returns how many."""
    keys = [d.obj.key for d in decisions if d.action is Action.DELETE]
    if dry_run:
        return 0
    for start in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[start : start + 1000]]
        stores.s3.delete_objects(
            Bucket=stores.settings.s3_bucket, Delete={"Objects": batch, "Quiet": True}
        )
    return len(keys)


def audit(
    stores: Stores, run_id: str, now: datetime, dry_run: bool, decisions: list[Decision]
) -> None:
    import psycopg

    rows = [
        (
            run_id,
            now,
            dry_run,
            "s3",
            d.obj.key,
            d.obj.camera_id,
            d.obj.frame_ts,
            d.obj.size,
            str(d.action),
            d.reason,
        )
        for d in decisions
    ]
    with psycopg.connect(stores.settings.postgres_dsn.get_secret_value()) as conn:
        for statement in AUDIT_DDL:
            conn.execute(statement)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO retention_audit (run_id, ts, dry_run, store, object_key, camera_id, "
                "object_ts, bytes, action, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                rows,
            )


def apply_store_ttls(stores: Stores, now: datetime, *, dry_run: bool) -> dict[str, Any]:
    """ClickHouse TTL on detections and MongoDB's TTL index (both idempotent), and the
    MongoDB frame documents past their age deleted (counted only in a dry run)."""
    import pymongo

    s = stores.settings
    policy = s.retention
    out: dict[str, Any] = {}
    ttl = f"toDateTime(frame_ts) + INTERVAL {int(policy.detections_hot_days)} DAY"
    if not dry_run:
        stores.command(f"ALTER TABLE {s.clickhouse_database}.detections MODIFY TTL {ttl}")
    out["clickhouse.detections"] = f"TTL {ttl}"
    cutoff = now - timedelta(days=policy.mongo_frames_days)
    client: Any
    with pymongo.MongoClient(
        s.mongo_uri.get_secret_value(), serverSelectionTimeoutMS=int(s.store_timeout_s * 1000)
    ) as client:
        coll = client[s.mongo_database]["detections"]
        expiry = int(timedelta(days=policy.mongo_frames_days).total_seconds())
        if not dry_run:
            try:
                coll.create_index("frame_ts", expireAfterSeconds=expiry, name="frame_ts_ttl")
                out["mongo.detections.ttl_index"] = expiry
            except pymongo.errors.PyMongoError as exc:
                out["mongo.detections.ttl_index"] = f"refused: {type(exc).__name__}"
            out["mongo.detections.deleted"] = coll.delete_many(
                {"frame_ts": {"$lt": cutoff}}
            ).deleted_count
        else:
            out["mongo.detections.expired"] = coll.count_documents({"frame_ts": {"$lt": cutoff}})
    return out


DOMAIN = Domain(assets=[retention])
