"""End to end: synthetic scenes with known ground truth -> edge -> broker -> processor ->
sinks -> the counts in ClickHouse and the alert rows in PostgreSQL.

This is the demo's own path (``vidsight.demo.run.run_demo``) on the test stack, with camera ids,
consumer groups and store namespaces of its own, so the shared topics' other records do not
count. Nothing is mocked: the edge renders and publishes the scenes, the processor applies
the site's sensors, the four sinks write their stores, and the summary reads them back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

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


def test_synthetic_site_reaches_every_store_with_the_ground_truth(
    catalog_topics: Any, tmp_path: Path
) -> None:
    stack = catalog_topics
    register_all(stack.endpoints)
    tag = f"e2e{uuid.uuid4().hex[:6]}"
    site = demo_site(seconds=20, cameras=2, prefix=tag, first_seed=23)
    edge = EdgeSettings(
        **{**stack.endpoints.model_dump(), "data_dir": tmp_path, "spool_dir": tmp_path / "spool"}
    )
    processor = ProcessorSettings(
        **stack.endpoints.model_dump(), group_id=f"it-{tag}-processor", session_timeout_ms=3000
    )
    projection = isolated(stack, tag)

    def demo() -> Any:
        return run_demo(
            site,
            site_file=tmp_path / "site.yaml",
            clock_file=tmp_path / "clock.json",
            edge=edge,
            processor=processor,
            sinks=projection.settings,
            timeout_s=300,
        )

    s3_log = stack.data_dir / "logs" / "s3.log"
    s3_log_start = s3_log.stat().st_size if s3_log.exists() else 0
    run = demo()
    with s3_log.open("rb") as fh:
        fh.seek(s3_log_start)
        errors = [
            line for line in fh.read().decode(errors="replace").splitlines() if "ERROR" in line
        ]
    assert errors == [], "the S3 part logged no error during the demo run"

    # The scenes have crossings at all, in both directions somewhere: the check below is
    # not satisfied by two empty stores.
    truth = {c.camera_id: expected_crossings(c) for c in site.cameras}
    assert sum(sum(n.values()) for n in truth.values()) >= 4
    assert run.expected == truth
    # ClickHouse (sensor_events FINAL) holds exactly the ground truth, camera by camera.
    assert run.summary.crossings == truth, run.summary.crossings
    assert run.crossings_match

    # PostgreSQL holds one row per alert the processor published for these cameras, moved
    # to the lifecycle of that alert's last message.
    serde = Serde.for_registry(stack.endpoints)
    codec = serde.topic(catalog.ALERTS, Alert)
    last: dict[str, Alert] = {}
    for msg in sorted(read_all(stack, catalog.ALERTS), key=lambda m: (m.partition(), m.offset())):
        alert = codec.decode(msg.value())
        if alert.camera_id.startswith(f"{tag}-"):
            last[alert.alert_id] = alert
    assert last, "the processor published no alert for the site's sensors"
    with projection.pg() as conn:
        rows = conn.execute(
            "SELECT alert_id, lifecycle FROM alerts WHERE camera_id LIKE %s", (projection.cameras,)
        ).fetchall()
    assert {str(a): str(lc) for a, lc in rows} == {a: r.lifecycle.value for a, r in last.items()}
    assert sum(r.alerts for r in run.summary.alerts_by_rule) == len(last)

    # Every store got this run's records; the S3 archive and evidence too.
    rows_by_store = run.summary.rows
    assert rows_by_store["postgres"]["cameras"] == 2
    assert rows_by_store["postgres"]["sensors"] == 6
    assert rows_by_store["clickhouse"]["detections"] > 0
    # One document per Detections event (an analysed frame with its objects).
    assert rows_by_store["mongo"]["frame documents"] == run.pipeline.published[catalog.DETECTIONS]
    assert rows_by_store["s3"]["archive objects"] > 0
    # Each stage handled at least what the stage before it produced in this run.
    stats = run.pipeline
    assert stats.processor.consumed >= sum(stats.published.values())
    assert Counter(stats.published)[catalog.FRAMES] == sum(c.frames for c in site.cameras)

    # A second run on the same stack describes itself: the same ground truth again (not the
    # sum of both runs), only the alerts it raised, and the stores' totals beside it.
    first_alerts = set(last)
    again = demo()
    assert again.summary.crossings == truth, again.summary.crossings
    # The first run's tracks end (zone exits, due loiters) only once the second run's frames
    # move the clock on: those alerts are new messages, but they start in the first run's
    # time, before the second run's scenes, and are not the second run's.
    new_alerts: dict[str, Alert] = {}
    for msg in read_all(stack, catalog.ALERTS):
        alert = codec.decode(msg.value())
        if (
            alert.camera_id.startswith(f"{tag}-")
            and alert.alert_id not in first_alerts
            and alert.start_ts >= again.since_us
        ):
            new_alerts[alert.alert_id] = alert
    assert new_alerts, "the second run raised alerts of its own"
    assert sum(r.alerts for r in again.summary.alerts_by_rule) == len(new_alerts)
    for table in ("detections", "sensor_events"):
        both = run.summary.rows["clickhouse"][table] + again.summary.rows["clickhouse"][table]
        assert again.summary.totals["clickhouse"][table] >= both
    assert again.summary.rows["postgres"]["alerts"] == len(new_alerts)
