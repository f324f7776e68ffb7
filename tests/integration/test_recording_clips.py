"""Recording through the local stack: an edge records a file camera, the segment references
reach PostgreSQL through the postgres sink, the objects are in S3 with their sha256, and
``vidsight alerts clip`` and the console cut an alert's range into a playable MP4 of the
camera's own packets; the console's clip endpoint refuses anonymous and bad requests."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import av
import console_support as cs
import httpx
import pytest
from test_sink_env import Projection, isolated

from producers.config import Camera
from producers.recording.spec import RecordSpec, recording_key
from producers.runner import EdgeRunner
from producers.settings import EdgeSettings
from producers.synthetic.scene import SceneSpec
from producers.synthetic.video import write_scene_video
from schemas import catalog
from schemas.records import Alert, now_micros, to_micros
from sinks.runner import RunOptions
from sinks.service import run_sinks
from tests.support import samples

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
S = 1_000_000


def packets_of(path: Path) -> list[tuple[int, bool]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(p.size, p.is_keyframe) for p in c.demux(s) if p.size]


@dataclass(frozen=True)
class Recorded:
    src: Path
    cam: str
    start: int
    alert: Alert
    unrecorded: Alert
    p: Projection


@pytest.fixture(scope="module")
def recorded(catalog_topics: Any, tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """A file camera recorded by an edge, an alert 3..4 s into it, projected into PostgreSQL."""
    tmp_path = tmp_path_factory.mktemp("recorded")
    tag = f"rc{uuid.uuid4().hex[:6]}"
    cam = f"{tag}-cam"
    src = tmp_path / "src.mp4"
    write_scene_video(
        src, scene=SceneSpec(seed=9), seconds=8, fps=25, width=320, height=180, gop=25,
        codec="libx264",
    )  # fmt: skip
    start = (now_micros() // S - 3600) * S
    settings = EdgeSettings(
        **{
            **catalog_topics.endpoints.model_dump(),
            "data_dir": tmp_path,
            "spool_dir": tmp_path / "spool",
            "drain_timeout_s": 60,
        }
    )
    camera = Camera(
        cam,
        cam,
        f"file://{src}?start={start}",
        5.0,
        "motion",
        MappingProxyType({}),
        record=RecordSpec("continuous", segment_s=2),
    )
    report = EdgeRunner(settings, [camera]).run()
    assert report.drained and report.cameras[0].state == "finished"
    assert report.cameras[0].segments == 4

    # An alert of the camera from 3 s to 4 s into the recording.
    base = samples.scene(n_cameras=1, frames=20, prefix=f"{tag}-").alerts[0]
    alert = replace(
        base, camera_id=cam, start_ts=start + 3 * S, end_ts=start + 4 * S, updated_ts=start + 4 * S
    )
    unrecorded = replace(
        samples.scene(n_cameras=1, frames=20, prefix=f"{tag}-none-").alerts[0],
        start_ts=start + 3 * S,
        end_ts=start + 4 * S,
    )
    assert samples.publish(catalog_topics.endpoints, catalog.ALERTS, [alert, unrecorded]) == 2

    p = isolated(catalog_topics, tag)
    result = run_sinks(["postgres"], p.settings, options=RunOptions(exit_when_idle_s=3))
    assert result.errors == {}
    return Recorded(src, cam, start, alert, unrecorded, p)


def test_segments_reach_postgres_and_s3_and_alerts_clip_cuts_the_alert(
    recorded: Recorded, tmp_path: Path
) -> None:
    src, cam, start, alert, p = (
        recorded.src, recorded.cam, recorded.start, recorded.alert, recorded.p
    )  # fmt: skip
    with p.pg() as conn:
        rows = conn.execute(
            "SELECT start_ts, end_ts, uri, sha256, bytes, codec, packets FROM recordings "
            "WHERE camera_id = %s ORDER BY start_ts",
            (cam,),
        ).fetchall()
    spans = [(to_micros(a), to_micros(b)) for a, b, *_ in rows]
    assert spans == [(start + i * 2 * S, start + (i + 1) * 2 * S) for i in range(4)]
    s3 = p.s3()
    bucket = p.settings.s3_bucket
    for (a, _), (_, _, uri, sha, size, codec, count) in zip(spans, rows, strict=True):
        key = recording_key(cam, a)
        assert uri == f"s3://{bucket}/{key}" and codec == "h264" and count == 50
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == "video/mp4"
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha

    out = tmp_path / "alert.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "vidsight", "alerts", "clip", alert.alert_id, "-o", str(out),
         "--pre", "1", "--post", "1"],
        env=p.env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"camera {cam}" in proc.stdout and "3.00s" in proc.stdout
    # 2 s .. 5 s of the source: from the keyframe at 2 s, the camera's own packets.
    assert packets_of(out) == packets_of(src)[50:125]
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 75

    missing = subprocess.run(
        [sys.executable, "-m", "vidsight", "alerts", "clip", str(uuid.uuid4()), "-o",
         str(tmp_path / "none.mp4")],
        env=p.env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode != 0 and "is not in PostgreSQL" in missing.stderr


@pytest.fixture(scope="module")
def console(recorded: Recorded, catalog_topics: Any) -> Iterator[str]:
    settings = cs.console_settings(
        catalog_topics, postgres_dsn=recorded.p.settings.postgres_dsn.get_secret_value()
    )
    with cs.serve(settings) as base:
        yield base


def test_the_console_plays_the_alert_clip_to_operators_only(
    recorded: Recorded, console: str, tmp_path: Path
) -> None:
    url = f"/api/alerts/{recorded.alert.alert_id}/clip.mp4"
    assert httpx.get(console + url).status_code == 401
    client = cs.login(console)
    try:
        resp = client.get(url, params={"pre": "1", "post": "1"}, timeout=60)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "video/mp4"
        out = tmp_path / "console.mp4"
        out.write_bytes(resp.content)
        assert packets_of(out) == packets_of(recorded.src)[50:125]
        # The <video> element asks for ranges; the clip is not cut again for each.
        part = client.get(url, params={"pre": "1", "post": "1"}, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == resp.content[:100]
        # The default roll is 5 s each side: the whole 8 s recording.
        whole = client.get(url, timeout=60)
        out.write_bytes(whole.content)
        assert packets_of(out) == packets_of(recorded.src)

        page = client.get(f"/alerts/{recorded.alert.alert_id}")
        assert 'id="clip"' in page.text
        # The alert's evidence names the video that covers it (5 s each side by default).
        detail = client.get(f"/api/alerts/{recorded.alert.alert_id}").json()
        start = recorded.start
        assert detail["video"] == {
            "start_ts": start - 2 * S,
            "end_ts": start + 9 * S,
            "recorded_s": 8.0,
            "segments": 4,
            "clip": url,
        }
        other = client.get(f"/api/alerts/{recorded.unrecorded.alert_id}").json()
        assert other["video"] is None

        bad = client.get("/api/alerts/not-a-uuid/clip.mp4")
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "alert_id"]
        for params in ({"pre": "1000"}, {"post": "-1"}, {"pre": "nan"}, {"post": "x" * 40}):
            resp = client.get(url, params=params)
            assert resp.status_code == 422, params
        assert client.get(f"/api/alerts/{uuid.uuid4()}/clip.mp4").status_code == 404
        none = client.get(f"/api/alerts/{recorded.unrecorded.alert_id}/clip.mp4")
        assert none.status_code == 404 and none.json()["error"] == (
            "no recorded video covers this alert"
        )
    finally:
        client.close()


def test_the_alert_detail_plays_the_clip_in_a_browser(recorded: Recorded, console: str) -> None:
    from test_console_browser import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable (apt-get install chromium); the browser test needs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(console + "/login")
            page.fill("input[name=user]", "operator")
            page.fill("input[name=password]", cs.PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(console + "/")
            page.goto(f"{console}/alerts/{recorded.alert.alert_id}")
            page.wait_for_function(
                "() => { const v = document.querySelector('#clip');"
                " return v && !v.hidden && v.readyState >= 2; }"
            )
            size = page.evaluate(
                "() => { const v = document.querySelector('#clip');"
                " return [v.videoWidth, v.videoHeight, v.duration]; }"
            )
            assert size[:2] == [320, 180] and size[2] == pytest.approx(8.0, abs=0.1)
            assert page.text_content("#clip-status") == "recorded video"
            page.goto(f"{console}/alerts/{recorded.unrecorded.alert_id}")
            page.wait_for_function(
                "() => document.querySelector('#clip-status').textContent === 'no recorded video'"
            )
            assert page.is_hidden("#clip")
        finally:
            browser.close()
