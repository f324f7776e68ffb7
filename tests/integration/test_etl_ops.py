"""The ETL's daily assets, agreement checks and sensors against the real stack.

A small scene (two cameras, their frames, detections, alerts and operator feedback) is
published with event and Kafka times in a closed hour and written by the real sinks into
this module's own namespaces. Then the daily assets give exact values, the agreement checks
pass and, once one store loses rows, fail naming the camera and hour, and the sensors are
evaluated through ``build_sensor_context`` with their cursors on a real Dagster instance.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetSelection,
    DagsterInstance,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
    materialize,
)
from test_sink_env import Projection, isolated

from dagster_project.analytics import occupancy_heatmap
from dagster_project.automation import late_archive_data
from dagster_project.checks import heatmap_sums, rollups_match_raw, stores_agree
from dagster_project.daily import alert_quality, camera_health, storage_usage
from dagster_project.lake import archive_manifest
from dagster_project.partitions import HOURLY
from dagster_project.resources import PlatformResource
from dagster_project.sources import closed_hours_sensor, sources_observer
from etl.lake.archive import parse_key
from schemas import catalog
from schemas.records import Feedback, FrameRef, Verdict, feedback_id
from sinks.runner import RunOptions
from sinks.service import run_sinks
from tests.support import samples

pytestmark = pytest.mark.integration

PAST = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
START = PAST + timedelta(minutes=10)
FRAMES = 40
STEP_US = 200_000
EVIDENCE_BYTES = (1000, 234)
"""Sizes of the evidence objects put for camera 000 (storage_usage sums them)."""


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _scene(tag: str) -> samples.Scene:
    scene = samples.scene(
        prefix=f"{tag}-", n_cameras=2, frames=FRAMES, start_us=_us(START), frame_step_us=STEP_US
    )
    alerts = sorted({(a.camera_id, a.sensor_id, a.start_ts, a.alert_id) for a in scene.alerts})
    by_cam = {cam: [(s, ts, aid) for c, s, ts, aid in alerts if c == cam] for cam, *_ in alerts}
    # The scene reviewed each camera's first alert (a false positive); camera 000's second
    # alert is confirmed by an operator, camera 001's stays unreviewed.
    sensor, ts, aid = by_cam[f"{tag}-cam-000"][1]
    when = ts + 30_000_000
    scene.feedback.append(
        Feedback(
            feedback_id=feedback_id(aid, "ana", when),
            alert_id=aid,
            camera_id=f"{tag}-cam-000",
            sensor_id=sensor,
            verdict=Verdict.TRUE_POSITIVE,
            operator="ana",
            ts=when,
        )
    )
    return scene


def _frames(tag: str) -> list[FrameRef]:
    return [
        FrameRef(
            event_id=f"{tag}-f-{c}-{f}",
            camera_id=f"{tag}-cam-{c:03d}",
            frame_ts=_us(START) + f * STEP_US,
            seq=f,
            width=640,
            height=360,
            motion_score=0.5,
            analysed=True,
            object_count=1,
        )
        for c in range(2)
        for f in range(FRAMES)
    ]


def _publish(stack: Any, tag: str) -> None:
    """Every record with a Kafka time in PAST: the frames at their own time (camera health
    reads the frames' archive times), the rest at the scene's start."""
    from confluent_kafka import Producer

    from schemas.serde import Serde

    serde = Serde.for_registry(stack.endpoints)
    producer = Producer(stack.endpoints.kafka_client_config(acks="all"))
    topics = [*_scene(tag).by_topic(), (catalog.FRAMES, _frames(tag))]
    for topic, records in topics:
        for r in records:
            ts = r.frame_ts if isinstance(r, FrameRef) else _us(START)
            producer.produce(topic, key=samples.message_key(topic, r),
                             value=serde.encode(topic, r), timestamp=ts // 1000)  # fmt: skip
            producer.poll(0)
    assert producer.flush(60) == 0


@pytest.fixture(scope="module")
def ops_env(catalog_topics: Any) -> Iterator[tuple[Projection, PlatformResource]]:
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    tag = f"op{uuid.uuid4().hex[:6]}"
    _publish(catalog_topics, tag)
    p = isolated(catalog_topics, tag)
    result = run_sinks(
        ["postgres", "clickhouse", "mongo", "s3"],
        p.settings,
        options=RunOptions(exit_when_idle_s=3),
    )
    assert result.errors == {}
    s3 = p.s3()
    for i, size in enumerate(EVIDENCE_BYTES):
        key = f"evidence/{tag}-cam-000/{PAST:%Y/%m/%d/%H}/{_us(START) + i}.jpg"
        s3.put_object(Bucket=p.settings.s3_bucket, Key=key, Body=b"j" * size)
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in p.env.items() if k.startswith("VIDSIGHT_")})
    try:
        yield p, PlatformResource(data_dir=str(catalog_topics.data_dir))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _day_key() -> str:
    return f"{PAST:%Y-%m-%d}"


def _hour_key() -> str:
    return HOURLY.get_partition_key_for_timestamp(PAST.timestamp())


def _check(check: Any, platform: PlatformResource) -> AssetCheckEvaluation:
    result = materialize(
        [check], selection=AssetSelection.checks(check), resources={"platform": platform}
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


# ---- daily assets ------------------------------------------------------------------------


def test_camera_health_counts_the_frames_and_gaps_of_the_day(
    ops_env: tuple[Projection, PlatformResource],
) -> None:
    p, platform = ops_env
    materialize([camera_health], partition_key=_day_key(), resources={"platform": platform})
    rows = p.ch(
        "SELECT camera_id, fps_configured, frames, expected_frames, uptime, gaps, gap_seconds, "
        f"detection_rate FROM camera_health_daily WHERE camera_id LIKE '{p.cameras}' ORDER BY 1"
    )
    up_s = (FRAMES - 1) * STEP_US / 1e6  # first to last frame, no silence over 5 s between
    expected = (5.0, FRAMES, 5 * 86400, round(up_s / 86400, 6), 2, 86400 - up_s, 1.0)
    assert [r[0] for r in rows] == [f"{p.tag}-cam-000", f"{p.tag}-cam-001"]
    for r in rows:
        assert r[1:4] == expected[:3]
        assert r[4] == pytest.approx(expected[3]) and r[5] == expected[4]
        assert r[6] == pytest.approx(expected[5]) and r[7] == pytest.approx(expected[6])


def test_alert_quality_from_alerts_and_published_feedback(
    ops_env: tuple[Projection, PlatformResource],
) -> None:
    p, platform = ops_env
    result = materialize(
        [alert_quality], partition_key=_day_key(), resources={"platform": platform}
    )
    rows = p.ch(
        "SELECT camera_id, rule, reason, alerts, reviewed, confirmed, false_positives "
        f"FROM alert_quality_daily WHERE camera_id LIKE '{p.cameras}' ORDER BY ALL"
    )
    c0, c1 = f"{p.tag}-cam-000", f"{p.tag}-cam-001"
    assert rows == [
        (c0, "zone", "confirmed", 1, 1, 1, 0),
        (c0, "zone", "unspecified", 1, 1, 0, 1),
        (c1, "zone", "unreviewed", 1, 0, 0, 0),
        (c1, "zone", "unspecified", 1, 1, 0, 1),
    ]
    mine = [sum(r[i] for r in rows) for i in (3, 4, 5)]
    assert mine == [4, 3, 1]  # reviewed share 3/4, precision 1/3 for these cameras
    # The metadata covers every alert of the day in this namespace.
    [(alerts, reviewed, confirmed)] = p.ch(
        "SELECT sum(alerts), sum(reviewed), sum(confirmed) FROM alert_quality_daily"
    )
    [mat] = result.asset_materializations_for_node("alert_quality")
    assert mat.metadata["alerts"].value == alerts
    assert mat.metadata["reviewed_share"].value == pytest.approx(reviewed / alerts)
    assert mat.metadata["precision"].value == pytest.approx(confirmed / reviewed)
    if (alerts, reviewed, confirmed) == (4, 3, 1):  # the module ran alone in its session
        assert mat.metadata["precision"].value == pytest.approx(1 / 3)
    assert f"| {c0} | 1 | 1 | 2 |" in str(mat.metadata["noisiest_cameras"].value)


def test_storage_usage_counts_bytes_per_store_and_camera(
    ops_env: tuple[Projection, PlatformResource],
) -> None:
    p, platform = ops_env
    materialize([storage_usage], partition_key=_day_key(), resources={"platform": platform})
    usage = {
        (store, obj, cam): (b, n)
        for store, obj, cam, b, n in p.ch(
            "SELECT store, object, camera_id, bytes, items FROM storage_usage"
        )
    }
    assert usage[("s3", "evidence", f"{p.tag}-cam-000")] == (sum(EVIDENCE_BYTES), 2)
    [(detections,)] = p.ch("SELECT count() FROM detections")
    assert usage[("clickhouse", "detections", "*")][1] == detections
    with p.mongo() as db:
        documents = db.detections.count_documents({})
    assert usage[("mongo", "detections", "*")][1] == documents
    archive = p.archive()
    frames = [k for k in archive if f"/{catalog.FRAMES}/" in k]
    assert usage[("s3", f"{p.settings.archive_prefix}/{catalog.FRAMES}", "*")] == (
        sum(len(archive[k]) for k in frames),
        len(frames),
    )


# ---- agreement checks --------------------------------------------------------------------


def test_agreement_checks_pass_then_name_the_camera_and_hour_a_store_lost(
    ops_env: tuple[Projection, PlatformResource],
) -> None:
    p, platform = ops_env
    materialize([occupancy_heatmap], partition_key=_hour_key(), resources={"platform": platform})
    for check in (rollups_match_raw, heatmap_sums, stores_agree):
        ev = _check(check, platform)
        assert ev.passed, (check.name, ev.description)
    # ClickHouse loses camera 000's first ten frames (the rollup and MongoDB keep them).
    cam = f"{p.tag}-cam-000"
    from sinks.clickhouse.sink import client_for

    client = client_for(p.settings, database=p.settings.clickhouse_database)
    try:
        client.command(f"DELETE FROM detections WHERE camera_id = '{cam}' AND seq < 10")
    finally:
        client.close()
    hour = f"{PAST:%Y-%m-%d %H}:00"
    for check in (rollups_match_raw, heatmap_sums, stores_agree):
        ev = _check(check, platform)
        assert not ev.passed, check.name
        text = ev.description or ""
        assert cam in text and (hour in text or PAST.strftime("%Y-%m-%d %H:%M") in text), text
        assert f"{p.tag}-cam-001" not in text, text


# ---- sensors -----------------------------------------------------------------------------


def test_late_archive_data_reruns_an_hour_that_got_rows_after_it_was_materialized(
    ops_env: tuple[Projection, PlatformResource],
) -> None:
    p, platform = ops_env
    instance = DagsterInstance.ephemeral()
    materialize(
        [archive_manifest],
        partition_key=_hour_key(),
        resources={"platform": platform},
        instance=instance,
    )

    def tick(cursor: str | None) -> SensorResult:
        result = late_archive_data(build_sensor_context(instance=instance, cursor=cursor))
        assert isinstance(result, SensorResult)
        return result

    first = tick(None)  # everything archived before the hour was materialized
    assert first.run_requests == [] and first.cursor is not None
    again = tick(first.cursor)
    assert again.run_requests == [] and again.cursor == first.cursor
    # A late block of the hour arrives (S3 times have whole seconds: wait past the run's).
    time.sleep(1.5)
    s3, bucket = p.s3(), p.settings.s3_bucket
    keys = [k for k in p.archive() if (a := parse_key(p.settings.archive_prefix, k))
            and a.topic == catalog.DETECTIONS and a.hour == PAST]  # fmt: skip
    source = parse_key(p.settings.archive_prefix, keys[0])
    assert source is not None
    late = keys[0].replace(f"{source.block_first:020d}-", f"{source.block_last + 1:020d}-")
    late = late.replace(f"-{source.block_last:020d}", f"-{2 * source.block_last + 1:020d}")
    # Written anew (a server-side copy may keep the source's modification time).
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    s3.put_object(Bucket=bucket, Key=late, Body=body)
    assert parse_key(p.settings.archive_prefix, late) is not None
    try:
        rerun = tick(again.cursor)
        assert [r.partition_key for r in rerun.run_requests] == [_hour_key()]
        assert rerun.cursor is not None and rerun.cursor > (again.cursor or "")
        assert "archive_manifest" in {k.to_user_string() for k in
                                      rerun.run_requests[0].asset_selection or []}  # fmt: skip
        assert tick(rerun.cursor).run_requests == []  # requested once
    finally:
        s3.delete_object(Bucket=bucket, Key=late)


def _detection_rows(camera: str, *times: datetime) -> list[list[Any]]:
    return [
        [f"{camera}-{t:%H%M%S}", 0, camera, t, 0, "motion", 1, "person", 0.9, 0.1, 0.1, 0.2, 0.3,
         None, 0, i]
        for i, t in enumerate(times)
    ]  # fmt: skip


def test_closed_hours_sensor_requests_each_closed_hour_once(
    catalog_topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_project.analytics_settings import analytics_settings, clickhouse
    from sinks.clickhouse import ddl

    tag = f"ch{uuid.uuid4().hex[:6]}"
    p = isolated(catalog_topics, tag)
    monkeypatch.setenv("VIDSIGHT_CLICKHOUSE_DATABASE", p.settings.clickhouse_database)
    platform = PlatformResource(data_dir=str(catalog_topics.data_dir))
    client = clickhouse(analytics_settings(platform.data_dir))  # creates the database's tables
    cam = f"{tag}-cam"
    h10 = datetime(2024, 6, 3, 10, tzinfo=UTC)

    def insert(*times: datetime) -> None:
        client.insert(
            f"{p.settings.clickhouse_database}.detections",
            _detection_rows(cam, *times),
            column_names=list(ddl.DETECTIONS.names),
        )

    instance = DagsterInstance.ephemeral()

    def tick(cursor: str | None) -> SensorResult | SkipReason:
        context = build_sensor_context(
            instance=instance, cursor=cursor, resources={"platform": platform}
        )
        result = closed_hours_sensor(context)
        assert isinstance(result, SensorResult | SkipReason)
        return result

    try:
        assert isinstance(tick(None), SkipReason)  # no data: nothing closed, no cursor
        # The watermark 11:10 minus the 5 min grace closes 10:00 only.
        insert(h10 + timedelta(minutes=5), h10 + timedelta(hours=1, minutes=10))
        first = tick(None)
        assert isinstance(first, SensorResult)
        assert [(r.partition_key, r.run_key) for r in first.run_requests or []] == [
            ("2024-06-03-10:00", "hourly-2024-06-03-10:00")
        ]
        assert first.cursor is not None
        assert datetime.fromisoformat(first.cursor) == h10 + timedelta(hours=1)
        assert isinstance(tick(first.cursor), SkipReason)  # no new data, no request
        insert(h10 + timedelta(hours=1, minutes=20))  # still inside 11:00 + grace
        assert isinstance(tick(first.cursor), SkipReason)
        insert(h10 + timedelta(hours=3, minutes=6))  # closes 11:00 and 12:00
        second = tick(first.cursor)
        assert isinstance(second, SensorResult)
        assert [r.partition_key for r in second.run_requests or []] == [
            "2024-06-03-11:00",
            "2024-06-03-12:00",
        ]
        assert all(isinstance(r, RunRequest) for r in second.run_requests or [])
        assert second.cursor is not None
        assert isinstance(tick(second.cursor), SkipReason)
    finally:
        client.close()


def test_sources_observer_emits_observations_and_advances_its_cursor(
    catalog_topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_project.analytics_settings import analytics_settings, clickhouse
    from sinks.clickhouse import ddl

    tag = f"so{uuid.uuid4().hex[:6]}"
    p = isolated(catalog_topics, tag)
    for k, v in p.env.items():
        if k.startswith("VIDSIGHT_") and k != "VIDSIGHT_DATA_DIR":
            monkeypatch.setenv(k, v)
    platform = PlatformResource(data_dir=str(catalog_topics.data_dir))
    client = clickhouse(analytics_settings(platform.data_dir))
    instance = DagsterInstance.ephemeral()

    def tick(cursor: str | None) -> SensorResult:
        context = build_sensor_context(
            instance=instance, cursor=cursor, resources={"platform": platform}
        )
        result = sources_observer(context)
        assert isinstance(result, SensorResult)
        return result

    def observed(result: SensorResult) -> dict[str, Any]:
        return {"/".join(e.asset_key.path): e.metadata for e in result.asset_events or []}

    try:
        first = observed(r1 := tick(None))
        assert first["clickhouse/detections"]["rows"].value == 0
        assert "newest_event_time" not in first["clickhouse/detections"]
        assert {"clickhouse/sensor_events", "clickhouse/alerts", "mongo/detections",
                "s3/archive"} <= first.keys()  # fmt: skip
        assert r1.cursor
        r2 = tick(r1.cursor)
        assert observed(r2) == {} and r2.cursor == r1.cursor  # nothing changed, nothing emitted
        newest = datetime(2024, 6, 3, 10, 30, tzinfo=UTC)
        client.insert(
            f"{p.settings.clickhouse_database}.detections",
            _detection_rows(f"{tag}-cam", newest - timedelta(minutes=1), newest),
            column_names=list(ddl.DETECTIONS.names),
        )
        r3 = tick(r2.cursor)
        third = observed(r3)
        assert list(third) == ["clickhouse/detections"]
        meta = third["clickhouse/detections"]
        assert meta["rows"].value == 2
        assert meta["newest_event_time"].value == newest.isoformat()
        assert meta["lag_s"].value >= (datetime.now(UTC) - newest).total_seconds() - 60
        assert r3.cursor != r2.cursor
        assert observed(tick(r3.cursor)) == {}
    finally:
        client.close()
