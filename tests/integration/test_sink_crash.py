"""kill -9 of the sinks mid-batch, three times: after a restart every store holds exactly
the expected rows (nothing lost, nothing counted twice, rollups included)."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections import Counter

import httpx
import pytest
from test_sink_env import free_port, isolated, publish_scene, sink_process

from schemas import catalog
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_ROWS = re.compile(r'^vidsight_sink_rows_written_total\{sink="(\w+)",topic="[^"]+"\} (\S+)$', re.M)


def rows_written(port: int) -> Counter[str]:
    """Rows written so far per sink, from the process's /metrics (empty while starting)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return Counter()
    out: Counter[str] = Counter()
    for sink, value in _ROWS.findall(text):
        out[sink] += int(float(value))
    return out


def test_kill_9_mid_batch_repeated_loses_and_duplicates_nothing(catalog_topics) -> None:  # type: ignore[no-untyped-def]
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    tag = f"kx{uuid.uuid4().hex[:6]}"
    scene = publish_scene(catalog_topics, tag, n_cameras=8, frames=400)
    p = isolated(catalog_topics, tag, batch_max_records=20, batch_max_age_s=0.2)
    rng = random.Random(tag)
    kills = 0
    for _ in range(3):
        port = free_port()
        proc = sink_process(p, "all", "--metrics-port", str(port))
        try:
            wait_for(
                lambda port=port: sum(rows_written(port).values()) > 0, 60, "the sinks to write"
            )
            time.sleep(rng.uniform(0.2, 1.5))
            assert proc.poll() is None, "finished before it could be killed: add more data"
            proc.kill()  # SIGKILL: no flush, no commit, no goodbye to the group
            kills += 1
        finally:
            proc.kill()
            proc.wait(30)
    assert kills == 3

    final = sink_process(p, "all", "--exit-when-idle", "5")
    out, _ = final.communicate(timeout=300)
    log = out.decode(errors="replace")
    assert final.returncode == 0, log[-3000:]
    print(log[-1500:])  # the totals, shown when an assertion below fails

    where = f"camera_id LIKE '{p.cameras}'"
    # ClickHouse: plain count() (no FINAL) and the rollups fed at insert time are exact.
    assert p.ch(f"SELECT count() FROM detections WHERE {where}") == [(scene.object_count,)]
    assert p.ch(f"SELECT sum(objects) FROM detections_hourly WHERE {where}") == [
        (scene.object_count,)
    ]
    assert p.ch(f"SELECT count() FROM sensor_events WHERE {where}") == [(len(scene.sensor_events),)]
    assert p.ch(f"SELECT sum(events) FROM sensor_events_hourly WHERE {where}") == [
        (len(scene.sensor_events),)
    ]
    n_alerts = len({a.alert_id for a in scene.alerts})
    assert p.ch(f"SELECT sum(alerts) FROM alerts_hourly WHERE {where}") == [(n_alerts,)]
    ended = sum(n for lifecycle, _, n in scene.alert_states() if lifecycle == "end")
    assert p.ch(f"SELECT count() FROM alerts FINAL WHERE {where} AND lifecycle = 'end'") == [
        (ended,)
    ]
    # PostgreSQL: one row per alert at its last state; every verdict once.
    with p.pg() as conn:
        assert (
            sorted(
                conn.execute(
                    "SELECT lifecycle, revision, count(*) FROM alerts WHERE camera_id LIKE %s "
                    "GROUP BY 1, 2",
                    (p.cameras,),
                ).fetchall()
            )
            == scene.alert_states()
        )
        assert conn.execute(
            "SELECT count(*) FROM feedback WHERE camera_id LIKE %s", (p.cameras,)
        ).fetchone() == (len(scene.feedback),)
    # MongoDB: one document per analysed frame.
    with p.mongo() as db:
        ids = [d["_id"] for d in db.detections.find({"camera_id": {"$regex": f"^{tag}-"}})]
    assert sorted(ids) == sorted(d.event_id for d in scene.detections)
    # S3: every message archived exactly once.
    for topic in (catalog.DETECTIONS, catalog.SENSOR_EVENTS, catalog.ALERTS):
        offsets = p.archived_offsets(topic)
        expected = {
            catalog.DETECTIONS: len(scene.detections),
            catalog.SENSOR_EVENTS: len(scene.sensor_events),
            catalog.ALERTS: len(scene.alerts),
        }[topic]
        assert sum(offsets.values()) == expected, topic
        assert set(offsets.values()) == {1}, f"{topic}: archived twice"


def consumed(port: int) -> int:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1
    return sum(
        int(float(v)) for v in re.findall(r"^vidsight_sink_consumed_total\{.*\} (\S+)$", text, re.M)
    )


def test_sigterm_flushes_and_commits_what_is_buffered(catalog_topics) -> None:  # type: ignore[no-untyped-def]
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    tag = f"tm{uuid.uuid4().hex[:6]}"
    scene = publish_scene(catalog_topics, tag, n_cameras=1, frames=60)
    # Nothing is due by size or age for a minute: only the shutdown flush can write it.
    p = isolated(catalog_topics, tag, batch_max_records=100_000, batch_max_age_s=60)
    port = free_port()
    proc = sink_process(p, "postgres", "--metrics-port", str(port))
    try:
        seen: list[int] = []

        def settled() -> bool:
            seen.append(consumed(port))
            return len(seen) > 10 and seen[-1] > 0 and seen[-1] == seen[-10]

        wait_for(settled, 90, "the sink to read everything")
        with p.pg() as conn:
            assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
        proc.terminate()  # SIGTERM
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    finally:
        proc.kill()
    with p.pg() as conn:
        assert conn.execute(
            "SELECT count(*) FROM alerts WHERE camera_id LIKE %s", (p.cameras,)
        ).fetchone() == (len(scene.final_alerts()),)
    again = sink_process(p, "postgres", "--exit-when-idle", "3")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0
    assert "postgres: consumed 0," in out.decode(), "the shutdown committed what it wrote"
