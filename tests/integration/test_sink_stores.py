"""Each sink against its real server: a published scene lands in all four stores exactly."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from test_sink_env import Projection, isolated, publish_scene

from schemas import catalog
from schemas.records import Detections
from schemas.serde import Serde
from sinks.postgres import migrate
from sinks.runner import RunOptions
from sinks.s3archive import decode
from sinks.service import run_sinks
from sinks.sql import render_table, run_query
from tests.support import samples

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def projected(catalog_topics) -> tuple[Projection, samples.Scene]:  # type: ignore[no-untyped-def]
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    tag = f"st{uuid.uuid4().hex[:6]}"
    scene = publish_scene(catalog_topics, tag, n_cameras=3, frames=60)
    p = isolated(catalog_topics, tag)
    result = run_sinks(
        ["postgres", "mongo", "clickhouse", "s3"],
        p.settings,
        options=RunOptions(exit_when_idle_s=3),
    )
    assert result.errors == {}
    return p, scene


def test_postgres_holds_configs_one_row_per_alert_at_its_last_state_and_feedback(
    projected: tuple[Projection, samples.Scene],
) -> None:
    p, scene = projected
    with p.pg() as conn:
        cams = conn.execute(
            "SELECT camera_id FROM cameras WHERE camera_id LIKE %s ORDER BY 1", (p.cameras,)
        ).fetchall()
        sensors = conn.execute(
            "SELECT count(*) FROM sensors WHERE camera_id LIKE %s", (p.cameras,)
        ).fetchone()
        alerts = conn.execute(
            "SELECT lifecycle, revision, count(*) FROM alerts WHERE camera_id LIKE %s "
            "GROUP BY 1, 2",
            (p.cameras,),
        ).fetchall()
        feedback = conn.execute(
            "SELECT count(*) FROM feedback WHERE camera_id LIKE %s", (p.cameras,)
        ).fetchone()
        migrations = conn.execute("SELECT version FROM vidsight_migrations").fetchall()
    assert [c for (c,) in cams] == [c.camera_id for c in scene.cameras]
    assert sensors == (len(scene.sensors),)
    assert sorted(alerts) == scene.alert_states()
    assert ("update", 1, len(scene.cameras)) in scene.alert_states(), "open alerts too"
    assert feedback == (len(scene.feedback),)
    assert migrations == [(m.version,) for m in migrate.load()]  # every packaged one


def test_mongo_holds_one_document_per_frame_and_configs_with_history(
    projected: tuple[Projection, samples.Scene],
) -> None:
    p, scene = projected
    with p.mongo() as db:
        docs = list(db.detections.find({"camera_id": {"$regex": f"^{p.tag}-"}}))
        assert sorted(d["_id"] for d in docs) == sorted(d.event_id for d in scene.detections)
        assert sum(d["object_count"] for d in docs) == scene.object_count
        current = db.configs.count_documents({"id": {"$regex": f"^{p.tag}-"}, "current": True})
        history = db.configs.count_documents({"id": {"$regex": f"^{p.tag}-"}, "current": False})
        indexes = {ix["name"] for ix in db.detections.list_indexes()}
    assert current == history == len(scene.cameras) + len(scene.sensors)
    assert {"camera_time", "label_time"} <= indexes


def test_clickhouse_holds_one_row_per_object_and_rollups_agree(
    projected: tuple[Projection, samples.Scene],
) -> None:
    p, scene = projected
    where = f"camera_id LIKE '{p.cameras}'"
    assert p.ch(f"SELECT count() FROM detections WHERE {where}") == [(scene.object_count,)]
    assert p.ch(f"SELECT sum(objects) FROM detections_hourly WHERE {where}") == [
        (scene.object_count,)
    ]
    by_label = Counter(o.label for d in scene.detections for o in d.objects)
    rows = p.ch(f"SELECT label, sum(objects) FROM detections_hourly WHERE {where} GROUP BY 1")
    assert dict(rows) == by_label
    assert p.ch(f"SELECT count() FROM sensor_events WHERE {where}") == [(len(scene.sensor_events),)]
    crossings = Counter(
        (e.sensor_id, e.direction.value) for e in scene.sensor_events if e.direction is not None
    )
    rows = p.ch(
        f"SELECT sensor_id, direction, sum(events) FROM sensor_events_hourly WHERE {where} "
        "AND kind = 'line_cross' GROUP BY 1, 2"
    )
    assert {(s, d): n for s, d, n in rows} == crossings
    n_alerts = len({a.alert_id for a in scene.alerts})
    ended = sum(n for lifecycle, _, n in scene.alert_states() if lifecycle == "end")
    assert p.ch(f"SELECT count(), countIf(lifecycle = 'end') FROM alerts FINAL WHERE {where}") == [
        (n_alerts, ended)
    ]
    assert p.ch(f"SELECT sum(alerts) FROM alerts_hourly WHERE {where}") == [(n_alerts,)]


def test_s3_archives_every_message_once_byte_exact(
    projected: tuple[Projection, samples.Scene],
) -> None:
    p, scene = projected
    objects = p.archive()
    assert objects, "nothing archived"
    assert all(k.startswith(f"{p.settings.archive_prefix}/vidsight.") for k in objects)
    assert all("/dt=" in k and "/hour=" in k and "/partition=" in k for k in objects)
    for topic, records in scene.by_topic():
        offsets = p.archived_offsets(topic)
        assert sum(offsets.values()) == len(records), topic
        assert set(offsets.values()) <= {1}, f"{topic}: an offset archived twice"
    serde = Serde.for_registry(p.settings)
    det_keys = [k for k in objects if f"/{catalog.DETECTIONS}/" in k]
    decoded = [
        serde.topic(catalog.DETECTIONS, Detections).decode(m.value)
        for k in det_keys
        for m in decode(catalog.DETECTIONS, objects[k])
        if (m.key or b"").startswith(f"{p.tag}-".encode())
    ]
    assert sorted(d.event_id for d in decoded) == sorted(d.event_id for d in scene.detections)


def analyst_queries() -> list[str]:
    """The SQL examples of sinks/ANALYSTS.md (the README's analyst section)."""
    text = (Path(__file__).parents[2] / "sinks" / "ANALYSTS.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def test_every_analyst_example_query_runs_and_finds_the_scene(
    projected: tuple[Projection, samples.Scene],
) -> None:
    p, _ = projected
    queries = analyst_queries()
    assert len(queries) >= 5
    for query in queries:
        result = run_query(p.settings, query)
        assert result.rows, f"no rows for:\n{query}"
        assert render_table(result).endswith("rows)\n")


def test_sql_command_prints_table_csv_and_json_and_reports_errors(
    projected: tuple[Projection, samples.Scene],
) -> None:
    p, scene = projected
    query = (
        f"SELECT camera_id, count() AS objects FROM detections "
        f"WHERE camera_id LIKE '{p.cameras}' GROUP BY camera_id ORDER BY camera_id"
    )

    def sql(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sinks", "sql", query, *args],
            env=p.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    per_camera = Counter({d.camera_id: 0 for d in scene.detections})
    for d in scene.detections:
        per_camera[d.camera_id] += len(d.objects)
    table = sql()
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["camera_id", "|", "objects"]
    assert f"({len(per_camera)} rows)" in table.stdout
    rows = list(csv.reader(io.StringIO(sql("--format", "csv").stdout)))
    assert rows[0] == ["camera_id", "objects"]
    assert {c: int(n) for c, n in rows[1:]} == per_camera
    lines = [json.loads(line) for line in sql("--format", "json").stdout.splitlines()]
    assert {d["camera_id"]: int(d["objects"]) for d in lines} == per_camera
    bad = subprocess.run(
        [sys.executable, "-m", "sinks", "sql", "SELEC 1"],
        env=p.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    # The user's own query with a caret, not the client's FORMAT-suffixed text.
    assert "syntax error at line 1, column 7" in bad.stderr
    assert "  SELEC 1\n        ^" in bad.stderr and "FORMAT" not in bad.stderr
    readonly = subprocess.run(
        [sys.executable, "-m", "sinks", "sql", "DROP TABLE detections"],
        env=p.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert readonly.returncode == 2
    assert "readonly" in readonly.stderr


def test_postgres_upsert_survives_a_key_inserted_between_lookup_and_copy(
    projected: tuple[Projection, samples.Scene], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sinks.batching import Batch, Item, SourceMessage
    from sinks.postgres import PostgresSink
    from sinks.postgres import rows as r

    p, scene = projected
    newer = scene.final_alerts()[scene.alerts[0].alert_id]
    older = next(a for a in scene.alerts if a.alert_id == newer.alert_id and a.revision == 0)
    sink = PostgresSink(p.settings)
    sink.open()
    # The lookup misses the row that is there (as when another writer inserts it meanwhile).
    monkeypatch.setattr(PostgresSink, "_split", lambda self, conn, table, ups: (ups, []))
    m = SourceMessage(catalog.ALERTS, 0, 0, b"k", b"", 0)
    items = [Item(m, r.alert_row(older)), Item(m, r.alert_row(newer))]
    assert sink.write(Batch(catalog.ALERTS, 0, 0, 1, items)) == 1
    with p.pg() as conn:
        assert conn.execute(
            "SELECT revision FROM alerts WHERE alert_id = %s", (newer.alert_id,)
        ).fetchone() == (newer.revision,)
    older_only = [Item(m, r.alert_row(older))]
    sink.write(Batch(catalog.ALERTS, 0, 0, 0, older_only))
    with p.pg() as conn:
        assert conn.execute(
            "SELECT revision FROM alerts WHERE alert_id = %s", (newer.alert_id,)
        ).fetchone() == (newer.revision,), "an older state never overwrites a newer one"
    sink.close()
