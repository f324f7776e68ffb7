"""The lake domain against the real stack: archive_complete, lake_parquet, a retention dry run."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from dagster import AssetCheckEvaluation, materialize
from test_sink_env import Projection, isolated

from dagster_project.checks import archive_complete
from dagster_project.lake import archive_manifest, lake_parquet
from dagster_project.lake_io import Stores, archive_shortfalls, settings
from dagster_project.resources import PlatformResource
from dagster_project.retention import RetentionConfig, retention
from etl.lake.archive import parse_key
from schemas import catalog
from sinks.errors import SqlError
from sinks.runner import RunOptions
from sinks.s3archive import decode
from sinks.service import run_sinks
from sinks.sql import run_query
from tests.support import samples

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lake_env(catalog_topics: Any) -> Iterator[tuple[Projection, PlatformResource]]:
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    tag = f"lk{uuid.uuid4().hex[:6]}"
    _publish_in_the_past(catalog_topics, tag)
    p = isolated(catalog_topics, tag, lake_prefix=f"it-{tag}-lake", evidence_prefix=f"it-{tag}-ev")
    result = run_sinks(
        ["postgres", "clickhouse", "s3"], p.settings, options=RunOptions(exit_when_idle_s=3)
    )
    assert result.errors == {}
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in p.env.items() if k.startswith("VIDSIGHT_")})
    try:
        yield p, PlatformResource(data_dir=str(catalog_topics.data_dir))
    finally:
        os.environ.clear()
        os.environ.update(saved)


PAST = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def _publish_in_the_past(stack: Any, tag: str) -> None:
    """A scene whose Kafka timestamps fall in a closed hour (the current one is no partition)."""
    from confluent_kafka import Producer

    from schemas.serde import Serde

    scene = samples.scene(prefix=f"{tag}-", n_cameras=2, frames=40)
    serde = Serde.for_registry(stack.endpoints)
    producer = Producer(stack.endpoints.kafka_client_config(acks="all"))
    ts = int((PAST + timedelta(minutes=10)).timestamp() * 1000)
    for topic, records in scene.by_topic():
        for r in records:
            producer.produce(
                topic, key=samples.message_key(topic, r), value=serde.encode(topic, r), timestamp=ts
            )
            producer.poll(0)
    assert producer.flush(60) == 0


def _hour_key(h: datetime) -> str:
    return f"{h:%Y-%m-%d-%H}:00"


def _checks(result: Any) -> list[AssetCheckEvaluation]:
    return list(result.get_asset_check_evaluations())


def test_archive_complete_passes_then_names_the_partition_of_a_removed_object(
    lake_env: tuple[Projection, PlatformResource],
) -> None:
    p, platform = lake_env
    keys = [k for k in (parse_key(p.settings.archive_prefix, key) for key in p.archive()) if k]
    target = next(k for k in keys if k.topic == catalog.DETECTIONS and k.hour == PAST)
    hour_key = _hour_key(target.hour)
    res = {"platform": platform}
    first = materialize([archive_manifest, archive_complete], partition_key=hour_key, resources=res)
    [ev] = _checks(first)
    assert ev.passed, ev.description
    p.s3().delete_object(Bucket=p.settings.s3_bucket, Key=target.key)
    # A rerun lists the smaller archive; the manifest keeps what it recorded (the loss is
    # flagged, never the new truth), so the blocking check fails and names what is short.
    again = materialize(
        [archive_manifest, archive_complete],
        partition_key=hour_key,
        resources=res,
        raise_on_error=False,
    )
    [mat] = again.asset_materializations_for_node("archive_manifest")
    assert mat.metadata["shrunk_partitions"].value >= 1
    [ev] = _checks(again)
    assert not ev.passed
    named = f"{catalog.DETECTIONS} partition {target.partition} hour {target.hour:%Y-%m-%d %H}:00"
    assert named in (ev.description or ""), ev.description
    # What the check reads says the same (a partitioned check cannot run without its asset
    # in this Dagster release: "no PartitionsDefinition shared by all the provided assets").
    stores = Stores(settings())
    try:
        lines = [s.describe() for s in archive_shortfalls(stores, target.hour)]
    finally:
        stores.close()
    assert any(line.startswith(named) for line in lines), lines


def test_lake_parquet_rows_equal_the_archive(lake_env: tuple[Projection, PlatformResource]) -> None:
    p, platform = lake_env
    archive = p.archive()
    day = PAST
    result = materialize(
        [lake_parquet], partition_key=f"{day:%Y-%m-%d}", resources={"platform": platform}
    )
    [mat] = result.asset_materializations_for_node("lake_parquet")
    assert "lake_tables" in mat.metadata
    s3 = p.s3()
    for topic in (catalog.FRAMES, catalog.DETECTIONS, catalog.CONFIG_CAMERAS):
        expected = sum(
            len(decode(topic, data))
            for key, data in archive.items()
            if (k := parse_key(p.settings.archive_prefix, key))
            and k.topic == topic
            and k.hour.date() == day.date()
        )
        prefix = f"it-{p.tag}-lake/{topic}/dt={day:%Y-%m-%d}/"
        got = 0
        for obj in s3.list_objects_v2(Bucket=p.settings.s3_bucket, Prefix=prefix).get(
            "Contents", []
        ):
            body = s3.get_object(Bucket=p.settings.s3_bucket, Key=obj["Key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            got += table.num_rows
            if topic == catalog.DETECTIONS and table.num_rows:
                assert table.schema.field("frame_ts").type.tz == "UTC"
                cams = table.column("camera_id").to_pylist()
                assert cams == sorted(cams)
        assert got == expected, topic


def test_the_cold_tier_is_a_table_vidsight_sql_reads(
    lake_env: tuple[Projection, PlatformResource], monkeypatch: pytest.MonkeyPatch
) -> None:
    """lake_parquet defines lake_detections as the ETL user; `vidsight sql` (readonly) reads it.

    The endpoint's lake is the bucket's ``lake/`` prefix, so this run writes there (one day,
    replaced by a rerun) instead of the test's own prefix.
    """
    p, platform = lake_env
    day = PAST
    monkeypatch.setenv("VIDSIGHT_LAKE_PREFIX", "lake")
    result = materialize(
        [lake_parquet], partition_key=f"{day:%Y-%m-%d}", resources={"platform": platform}
    )
    [mat] = result.asset_materializations_for_node("lake_parquet")
    assert "lake_detections" in str(mat.metadata["lake_tables"].value).split(", ")
    expected = sum(
        len(decode(catalog.DETECTIONS, data))
        for key, data in p.archive().items()
        if (k := parse_key(p.settings.archive_prefix, key))
        and k.topic == catalog.DETECTIONS
        and k.hour.date() == day.date()
    )
    assert expected > 0
    db = p.settings.clickhouse_database
    query = f"SELECT count() FROM {db}.lake_detections WHERE dt = '{day:%Y-%m-%d}'"
    assert run_query(p.settings, query).rows == [(expected,)]
    readme = (  # README "The cold tier"
        f"SELECT camera_id, dt, count() AS frames, sum(length(objects)) AS objects "
        f"FROM {db}.lake_detections WHERE dt >= '{day:%Y-%m-%d}' "
        f"AND dt < '{day + timedelta(days=1):%Y-%m-%d}' "
        "GROUP BY camera_id, dt ORDER BY camera_id, dt"
    )
    assert sum(row[2] for row in run_query(p.settings, readme).rows) == expected
    with pytest.raises(SqlError):  # the table is the way in, not the lake's key pair
        run_query(
            p.settings,
            f"SELECT count() FROM s3(lake, url = '{p.settings.s3_endpoint}/"
            f"{p.settings.s3_bucket}/lake/{catalog.DETECTIONS}/dt=*/*.parquet')",
        )
    secret = p.settings.s3_secret_key.get_secret_value()
    assert secret not in str(run_query(p.settings, f"SHOW CREATE TABLE {db}.lake_detections").rows)


def test_retention_dry_run_lists_the_expired_evidence_and_keeps_a_confirmed_alerts(
    lake_env: tuple[Projection, PlatformResource],
) -> None:
    p, platform = lake_env
    s3, bucket = p.s3(), p.settings.s3_bucket
    now = datetime.now(UTC)
    old_day = now - timedelta(days=40)
    cam = f"{p.tag}-cam-ret"

    def put(t: datetime) -> str:
        us = int(t.timestamp() * 1_000_000)
        key = f"it-{p.tag}-ev/{cam}/{t:%Y}/{t:%m}/{t:%d}/{t:%H}/{us}.jpg"
        s3.put_object(Bucket=bucket, Key=key, Body=b"jpeg")
        return key

    expired, confirmed, young = put(old_day), put(old_day + timedelta(minutes=1)), put(now)
    lake = f"it-{p.tag}-lake"
    for topic in (catalog.FRAMES, catalog.DETECTIONS):  # the lake holds that old day
        s3.put_object(
            Bucket=bucket, Key=f"{lake}/{topic}/dt={old_day:%Y-%m-%d}/0.parquet", Body=b""
        )
    alert_id = str(uuid.uuid4())
    alert_ts = old_day + timedelta(minutes=1)  # the confirmed frame's time, not the other's
    with psycopg.connect(p.settings.postgres_dsn.get_secret_value()) as conn:
        conn.execute(
            "INSERT INTO alerts (alert_id, camera_id, sensor_id, kind, rule, lifecycle, "
            "revision, severity, label, top_score, start_ts, updated_ts, evidence_uri, "
            "track_ids, event_count) VALUES (%s, %s, 's', 'tripwire', 'line_cross', 'new', 1, "
            "'info', 'person', 0.9, %s, %s, %s, '{}', 1)",
            (alert_id, cam, alert_ts, alert_ts, f"s3://{bucket}/{confirmed}"),
        )
        conn.execute(
            "INSERT INTO feedback (feedback_id, alert_id, camera_id, sensor_id, verdict, "
            "operator, ts, boxes) VALUES (%s, %s, %s, 's', 'true_positive', 'op', %s, '[]')",
            (str(uuid.uuid4()), alert_id, cam, now),
        )
    result = materialize(
        [retention],
        resources={"platform": platform},
        run_config={"ops": {"retention": {"config": RetentionConfig().model_dump()}}},
    )
    with psycopg.connect(p.settings.postgres_dsn.get_secret_value()) as conn:
        rows = conn.execute(
            "SELECT object_key, action, reason, dry_run FROM retention_audit WHERE run_id = %s "
            "ORDER BY object_key",
            (result.run_id,),
        ).fetchall()
    assert [(k, a) for k, a, _, _ in rows] == sorted([(expired, "delete"), (confirmed, "keep")])
    assert all(dry for *_, dry in rows)
    assert young not in {k for k, *_ in rows}
    present = {
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"it-{p.tag}-ev/")["Contents"]
    }
    assert present == {expired, confirmed, young}  # a dry run deletes nothing
