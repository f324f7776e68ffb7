"""Hourly analytics on the real stack, materialized through Dagster.

A synthetic scene with ground truth goes through edge, processor and sinks (the demo's path),
then ``sensor_hourly`` crossings per direction equal the ground truth, ``heatmap_cells`` sum to
the ClickHouse detections, and a rerun changes nothing. A count anomaly planted in a 5-week
history is found once and published once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, materialize

from dagster_project.analytics import HOURLY_ASSETS, count_anomalies, sensor_hourly
from dagster_project.partitions import HOURLY
from dagster_project.resources import PlatformResource
from producers.settings import EdgeSettings
from schemas import catalog
from schemas.records import Alert
from schemas.registration import register_all
from schemas.serde import Serde
from stream_processors.runtime.settings import ProcessorSettings
from tests.integration.test_processor_support import read_all
from tests.integration.test_sink_env import isolated
from vidsight.demo.run import run_demo
from vidsight.demo.site import demo_site, expected_crossings

pytestmark = pytest.mark.integration


def _run(assets: list[Any], hour: datetime, data_dir: Path) -> None:
    key = HOURLY.get_partition_key_for_timestamp(hour.timestamp())
    result = materialize(
        assets,
        partition_key=key,
        resources={"platform": PlatformResource(data_dir=str(data_dir))},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success


def test_scene_through_the_pipeline_gives_ground_truth_rollups(
    catalog_topics: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = catalog_topics
    register_all(stack.endpoints)
    tag = f"etl{uuid.uuid4().hex[:6]}"
    site = demo_site(seconds=20, cameras=2, prefix=tag, first_seed=31)
    edge = EdgeSettings(
        **{**stack.endpoints.model_dump(), "data_dir": tmp_path, "spool_dir": tmp_path / "spool"}
    )
    processor = ProcessorSettings(
        **stack.endpoints.model_dump(), group_id=f"it-{tag}-processor", session_timeout_ms=3000
    )
    p = isolated(stack, tag)
    run_demo(
        site, site_file=tmp_path / "site.yaml", clock_file=tmp_path / "clock.json",
        edge=edge, processor=processor, sinks=p.settings, timeout_s=300,
    )  # fmt: skip
    monkeypatch.setenv("VIDSIGHT_CLICKHOUSE_DATABASE", p.settings.clickhouse_database)
    hours = [
        h.replace(tzinfo=UTC)
        # Only this scene's hours: the sinks' new groups also read other tests' records.
        for (h,) in p.ch(
            "SELECT DISTINCT toStartOfHour(frame_ts) FROM detections "
            f"WHERE camera_id LIKE '{tag}-%' ORDER BY 1"
        )
    ]
    assert hours
    for hour in hours:
        _run(HOURLY_ASSETS, hour, stack.data_dir)

    def snapshot() -> tuple[Any, ...]:
        return (
            p.ch("SELECT * FROM sensor_hourly ORDER BY ALL"),
            p.ch("SELECT * FROM camera_hourly ORDER BY ALL"),
            p.ch("SELECT * FROM heatmap_cells ORDER BY ALL"),
        )

    truth = {c.camera_id: expected_crossings(c) for c in site.cameras}
    got: dict[str, Counter[str]] = {}
    for camera, a_to_b, b_to_a in p.ch(
        "SELECT camera_id, sum(crossings_a_to_b), sum(crossings_b_to_a) FROM sensor_hourly "
        f"WHERE camera_id LIKE '{tag}-%' GROUP BY camera_id"
    ):
        got[camera] = Counter({"a_to_b": a_to_b, "b_to_a": b_to_a})
    assert {c: +n for c, n in got.items() if +n} == {
        c: Counter({d.value: k for d, k in n.items()}) for c, n in truth.items() if n
    }
    mine = f"camera_id LIKE '{tag}-%'"
    cells = dict(
        p.ch(f"SELECT camera_id, sum(detections) FROM heatmap_cells WHERE {mine} GROUP BY 1")
    )
    raw = dict(p.ch(f"SELECT camera_id, count() FROM detections FINAL WHERE {mine} GROUP BY 1"))
    assert cells == raw and sum(raw.values()) > 0
    keys = [o["Key"] for o in p.s3().list_objects_v2(
        Bucket=p.settings.s3_bucket, Prefix=f"reports/heatmaps/{tag}-")["Contents"]]  # fmt: skip
    assert any(k.endswith(f"/{hours[0]:%H}.png") for k in keys) and any(
        k.endswith("/day.png") for k in keys
    )
    before = snapshot()
    _run(HOURLY_ASSETS, hours[0], stack.data_dir)
    assert snapshot() == before


def test_planted_anomaly_is_found_once_and_published_once(
    catalog_topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = catalog_topics
    register_all(stack.endpoints)
    tag = f"ano{uuid.uuid4().hex[:6]}"
    p = isolated(stack, tag)
    monkeypatch.setenv("VIDSIGHT_CLICKHOUSE_DATABASE", p.settings.clickhouse_database)
    camera, hour = f"{tag}-cam", datetime(2024, 6, 3, 17, tzinfo=UTC)
    weeks = [hour - timedelta(weeks=k) for k in range(4, -1, -1)]
    counts = [10, 11, 9, 10, 60]  # four ordinary weeks, then the planted spike
    _run([sensor_hourly], weeks[0], stack.data_dir)  # creates the tables
    from sinks.clickhouse import ddl
    from sinks.clickhouse.sink import client_for

    rows = []
    for when, n in zip(weeks, counts, strict=True):
        for i in range(n):
            # By column name: the nullable columns left out stay NULL.
            row = {
                "event_id": f"{tag}-{when:%j}-{i}", "camera_id": camera, "sensor_id": "line",
                "kind": "line_cross", "direction": "a_to_b", "track_id": i, "label": "person",
                "score": 0.9, "ts": when + timedelta(seconds=10 * i), "frame_seq": i,
                "_partition": 0, "_offset": i,
            }  # fmt: skip
            rows.append([row.get(name) for name in ddl.SENSOR_EVENTS.names])

    client = client_for(p.settings, database=p.settings.clickhouse_database)
    client.insert("sensor_events", rows, column_names=list(ddl.SENSOR_EVENTS.names))
    client.close()
    for when in weeks:
        _run([sensor_hourly], when, stack.data_dir)
    _run([count_anomalies], hour, stack.data_dir)
    _run([count_anomalies], hour, stack.data_dir)  # a rerun finds it again, publishes nothing
    found = p.ch("SELECT camera_id, metric, value, median, alert_id FROM anomalies")
    assert [r[:4] for r in found] == [(camera, "crossings_a_to_b", 60.0, 10.0)]
    codec = Serde.for_registry(stack.endpoints).topic(catalog.ALERTS, Alert)
    published = [
        codec.decode(m.value())
        for m in read_all(stack, catalog.ALERTS)
        if m.key() == camera.encode()
    ]
    assert [(a.alert_id, a.lifecycle.value, a.rule.value) for a in published] == [
        (found[0][4], "new", "count_anomaly"),
        (found[0][4], "end", "count_anomaly"),
    ]
