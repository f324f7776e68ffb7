"""``replay --sink X`` drops a projection and rebuilds it from the topics: same answers after."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from test_sink_env import isolated, publish_scene, sink_process, snapshot

from sinks.errors import ReplayError
from sinks.replay import group_is_active, replay
from sinks.runner import RunOptions
from sinks.service import run_sinks
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_rebuild_of_every_store_gives_the_same_query_results(catalog_topics) -> None:  # type: ignore[no-untyped-def]
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    tag = f"rp{uuid.uuid4().hex[:6]}"
    scene = publish_scene(catalog_topics, tag, n_cameras=2, frames=50)
    p = isolated(catalog_topics, tag)
    result = run_sinks(
        ["postgres", "mongo", "clickhouse", "s3"],
        p.settings,
        options=RunOptions(exit_when_idle_s=3),
    )
    assert result.errors == {}
    before = snapshot(p)
    archive_before = p.archive()
    assert before["postgres"]["alerts"], "something to rebuild"
    assert before["clickhouse"]["detections"] == [(scene.object_count, scene.object_count)]

    with p.pg() as conn:  # damage the projection: the rebuild must not depend on it
        conn.execute("DELETE FROM alerts")

    cli = subprocess.run(
        [sys.executable, "-m", "sinks", "replay", "--sink", "all", "--yes", "--idle", "3"],
        env=p.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    for store in ("postgres", "mongo", "clickhouse", "s3"):
        assert f"{store}: rebuilt from" in cli.stdout

    assert snapshot(p) == before

    # The rebuild dead-letters poison records again (other tests put some on the shared
    # topics), so vidsight.dlq grew; every other topic's archive is rewritten byte for byte.
    def events(archive: dict[str, bytes]) -> dict[str, bytes]:
        return {k: v for k, v in archive.items() if "/vidsight.dlq/" not in k}

    assert events(p.archive()) == events(archive_before)


def test_replay_refuses_while_the_stores_sink_is_running(catalog_topics) -> None:  # type: ignore[no-untyped-def]
    p = isolated(catalog_topics, f"ra{uuid.uuid4().hex[:6]}")
    proc = sink_process(p, "postgres")
    try:
        wait_for(lambda: group_is_active(p.settings, "postgres") is not None, 60, "the group")
        with pytest.raises(ReplayError, match="stop `vidsight sink run postgres` first"):
            replay(["postgres"], p.settings, idle_s=1)
    finally:
        proc.terminate()
        proc.wait(30)
