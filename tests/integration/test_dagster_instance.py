"""The stack's Dagster instance: webserver + daemon on PostgreSQL storage, runs through its API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest

from dagster_project.launch import DagsterClient, materialize
from infra.stack import Stack
from infra.stack.settings import StackSettings
from vidsight.settings import load

pytestmark = pytest.mark.integration


def _stack(handle) -> Stack:
    return Stack(load(StackSettings, data_dir=handle.data_dir))


@pytest.fixture(scope="module")
def client(stack):
    s = load(StackSettings, data_dir=stack.data_dir)
    c = DagsterClient(f"http://{s.host}:{s.ports.dagster}")
    yield c
    c.close()


def test_instance_storage_is_postgresql_and_no_sqlite(stack, client) -> None:
    import psycopg

    instance = client.query("{ instance { info runQueueConfig { maxConcurrentRuns } } }")
    info = instance["instance"]["info"]
    for storage in ("PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"):
        assert storage in info, info
    assert instance["instance"]["runQueueConfig"] == {"maxConcurrentRuns": 2}
    with psycopg.connect(_stack(stack).dagster_pg_url(), connect_timeout=5) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert {"runs", "event_logs", "jobs", "daemon_heartbeats"} <= tables
    home = stack.data_dir / "dagster"
    sqlite = [p for p in home.rglob("*") if p.suffix in (".db", ".sqlite") or "sqlite" in p.name]
    assert sqlite == [], sqlite
    yaml_text = (home / "dagster.yaml").read_text()
    assert "postgres_url" in yaml_text and "@" not in yaml_text, "the URL comes by env"


def test_run_launched_through_graphql_succeeds_and_is_listed(catalog_topics, client) -> None:
    tag = uuid.uuid4().hex
    run_id = client.launch_run([["kafka_topics"]], None, {"vidsight/test": tag})
    deadline = time.monotonic() + 180
    while (status := client.run(run_id)["status"]) not in ("SUCCESS", "FAILURE", "CANCELED"):
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(1)
    assert status == "SUCCESS"
    assert {"runId": run_id, "status": "SUCCESS"} in client.runs(limit=50)


def test_etl_materialize_cli_runs_on_the_instance(catalog_topics, client) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vidsight", "etl", "materialize", "--select", "kafka_topics"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIDSIGHT_DATA_DIR": str(catalog_topics.data_dir)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"^run (\S+) SUCCESS (http://\S+/runs/\1)$", result.stdout, re.M)
    assert match, result.stdout
    assert {"runId": match.group(1), "status": "SUCCESS"} in client.runs(limit=50)


def test_etl_materialize_refuses_an_unknown_asset(stack, client) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vidsight", "etl", "materialize", "--select", "no_such_asset"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIDSIGHT_DATA_DIR": str(stack.data_dir)},
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "no_such_asset" in result.stderr or "refused" in result.stderr, result.stderr


def test_materialize_waits_for_a_queued_run(catalog_topics, client) -> None:
    seen: list[str] = []
    runs = materialize(client, ["kafka_topics"], on_launch=seen.append, timeout_s=180)
    assert [r.status for r in runs] == ["SUCCESS"]
    assert seen == [runs[0].url]


def test_status_reports_the_daemon_heartbeat(stack) -> None:
    import psycopg

    result = subprocess.run(
        [sys.executable, "-m", "vidsight", "status", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIDSIGHT_DATA_DIR": str(stack.data_dir)},
        timeout=120,
        check=False,
    )
    status = json.loads(result.stdout)
    assert status["dagster-daemon"]["healthy"] is True, status["dagster-daemon"]
    assert status["dagster"]["healthy"] is True
    with psycopg.connect(_stack(stack).dagster_pg_url(), connect_timeout=5) as conn:
        newest = conn.execute(
            "SELECT extract(epoch FROM now() - max(timestamp)) FROM daemon_heartbeats"
        ).fetchone()
    assert newest is not None and newest[0] < 120, "the daemon beats into PostgreSQL"


def test_dagster_logs_have_no_dev_command_warning(stack) -> None:
    for name in ("dagster", "dagster-daemon"):
        text = (stack.data_dir / "logs" / f"{name}.log").read_text(errors="replace")
        assert "dev_command is superseded" not in text
        assert "dagster dev" not in text
