"""A store down for 20 s: the sink backs off, then catches up; nothing is skipped.

The store is a part of a stack of this test's own (the session stack's stores stay up); the
sink reads the session's Kafka and registry and writes to that store.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_sink_env import isolated

from infra.stack import Stack
from infra.stack.settings import StackEndpoints
from schemas import catalog
from sinks.metrics import SinkMetrics
from sinks.runner import RunOptions
from sinks.service import ServiceResult, run_sinks
from tests.support import samples
from tests.support.waiting import wait_for
from vidsight.settings import load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 20.0


def halves(scene: samples.Scene, topics: tuple[str, ...]) -> tuple[list, list]:  # type: ignore[type-arg]
    first, second = [], []
    for topic, records in scene.by_topic():
        if topic in topics:
            mid = len(records) // 2
            first.append((topic, records[:mid]))
            second.append((topic, records[mid:]))
    return first, second


@pytest.mark.parametrize("store", ["clickhouse", "postgres"])
def test_store_down_for_20s_backs_off_then_catches_up(
    store: str,
    catalog_topics: Any,
    enterable_tmp_path: Path,
    stack_settings_factory: Callable[..., Any],
) -> None:
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    own = Stack(stack_settings_factory(enterable_tmp_path / "own"), [store])
    own.up()
    try:
        # The own stack's endpoints and credentials, as any client of it reads them.
        mine = load(StackEndpoints, data_dir=enterable_tmp_path / "own")
        tag = f"out{store[:2]}{uuid.uuid4().hex[:5]}"
        target = (
            {"clickhouse_url": mine.clickhouse_url, "clickhouse_password": mine.clickhouse_password}
            if store == "clickhouse"
            else {"postgres_dsn": mine.postgres_dsn.get_secret_value()}
        )
        p = isolated(catalog_topics, tag, **target) if store == "clickhouse" else None
        if p is None:  # the own embedded PostgreSQL: no schema to scope, the database is ours
            p = isolated(catalog_topics, tag)
            p.settings = p.settings.model_copy(update={"postgres_dsn": mine.postgres_dsn})
        scene = samples.scene(2, 120, prefix=f"{tag}-")
        topics = (
            (catalog.DETECTIONS, catalog.SENSOR_EVENTS, catalog.ALERTS)
            if store == "clickhouse"
            else (catalog.CONFIG_CAMERAS, catalog.CONFIG_SENSORS, catalog.ALERTS, catalog.FEEDBACK)
        )
        before, during = halves(scene, topics)

        def stored() -> int:
            try:
                if store == "clickhouse":
                    return int(
                        p.ch(f"SELECT count() FROM detections WHERE camera_id LIKE '{p.cameras}'")[
                            0
                        ][0]
                    )
                with p.pg() as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM alerts WHERE camera_id LIKE %s", (p.cameras,)
                    ).fetchone()
                    return int(row[0]) if row else 0
            except Exception:
                return -1

        for topic, records in before:
            samples.publish(catalog_topics.endpoints, topic, records)
        stop = threading.Event()
        metrics = SinkMetrics()
        result: list[ServiceResult] = []
        runner = threading.Thread(
            target=lambda: result.append(
                run_sinks([store], p.settings, options=RunOptions(), stop=stop, metrics=metrics)
            )
        )
        runner.start()
        try:
            wait_for(lambda: stored() > 0, 60, "the first half to land")
            time.sleep(1.5)  # let the first half finish and commit
            own.down()
            for topic, records in during:
                samples.publish(catalog_topics.endpoints, topic, records)
            time.sleep(OUTAGE_S)
            retries = metrics.store_retries.labels(store)._value.get()
            assert retries >= 3, f"backed off and retried while down ({retries})"
            own.up()
            if store == "clickhouse":
                expected = scene.object_count
            else:
                expected = len({a.alert_id for a in scene.alerts})
            wait_for(lambda: stored() == expected, 120, "the sink to catch up")
            time.sleep(2 * p.settings.batch_max_age_s + 1)  # anything late would show now
        finally:
            stop.set()
            runner.join(60)
        assert result and result[0].errors == {}
        assert result[0].stats[store].outages >= 3
        # Exactly the expected rows: nothing skipped (or dead-lettered) during the outage, and
        # nothing written twice when the sink caught up.
        assert stored() == expected
        if store == "clickhouse":
            where = f"camera_id LIKE '{p.cameras}'"
            assert p.ch(f"SELECT sum(objects) FROM detections_hourly WHERE {where}") == [
                (scene.object_count,)
            ]
            assert p.ch(f"SELECT count() FROM sensor_events WHERE {where}") == [
                (len(scene.sensor_events),)
            ]
        else:
            with p.pg() as conn:
                states = conn.execute(
                    "SELECT lifecycle, revision, count(*) FROM alerts WHERE camera_id LIKE %s "
                    "GROUP BY 1, 2",
                    (p.cameras,),
                ).fetchall()
                assert sorted(states) == scene.alert_states()
                assert conn.execute(
                    "SELECT count(*) FROM feedback WHERE camera_id LIKE %s", (p.cameras,)
                ).fetchone() == (len(scene.feedback),)
    finally:
        own.down()
