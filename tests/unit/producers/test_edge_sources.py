"""Sources: video files (once, looped, keyframes only, corrupt), synthetic scenes, snapshots."""

from __future__ import annotations

import http.server
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from producers.errors import SourceError
from producers.frames import Frame
from producers.imaging import encode_jpeg
from producers.sources.backoff import BackoffPolicy
from producers.sources.base import SourceContext
from producers.sources.factory import open_source, parse_source
from producers.synthetic.scene import Scene, SceneSpec
from producers.synthetic.video import write_scene_video

START = 1_700_000_000_000_000


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_scene_video(
        path, scene=SceneSpec(seed=1), seconds=4, fps=25, width=320, height=180, gop=5
    )
    return path


def frames_of(url: str, fps: float = 5.0, **ctx: Any) -> list[Frame]:
    source = open_source(parse_source(url), SourceContext(camera_id="c", fps=fps, **ctx))
    return list(source.frames())


def test_a_file_plays_once_with_event_times_from_start(clip: Path) -> None:
    frames = frames_of(f"file://{clip}?start={START}", keyframe_only=False)
    assert len(frames) == 100
    assert [f.ts_us for f in frames[:3]] == [START, START + 40_000, START + 80_000]
    assert frames[-1].pts_s == pytest.approx(3.96)
    assert (frames[0].width, frames[0].height) == (320, 180)
    assert frames[0].luma().shape == (180, 320) and frames[0].bgr().shape == (180, 320, 3)


def test_decoded_pixels_show_the_scene(clip: Path) -> None:
    frame = frames_of(str(clip), keyframe_only=False)[75]  # t = 3.0 s
    truth = Scene(SceneSpec(seed=1)).truth_at(3.0)
    assert truth
    b = truth[0].bbox
    cx, cy = int((b.x1 + b.x2) / 2 * 320), int((b.y1 + b.y2) / 2 * 180)
    # The object's colour is far from the background's luma (~95..140).
    assert abs(int(frame.luma()[cy, cx]) - 118) > 50


def test_keyframe_only_decoding_when_the_gop_fits(clip: Path) -> None:
    # GOP 5 at 25 fps = one keyframe per 0.2 s: enough for 5 fps analysis.
    frames = frames_of(str(clip), fps=5.0)
    assert 20 <= len(frames) <= 40  # the first GOPs are decoded fully while measuring
    assert all(f.keyframe for f in frames[-10:])
    assert len(frames_of(str(clip), fps=10.0)) == 100  # 10 fps needs more than keyframes


def test_loop_keeps_time_monotonic(clip: Path) -> None:
    stop = threading.Event()
    source = open_source(
        parse_source(f"file://{clip}?loop=true&start={START}"),
        SourceContext(camera_id="c", fps=25, stop=stop, keyframe_only=False),
    )
    assert not source.finite
    ts = []
    for frame in source.frames():
        ts.append(frame.ts_us)
        if len(ts) == 250:
            stop.set()
    assert len(ts) == 250
    assert all(b - a == 40_000 for a, b in itertools.pairwise(ts))


def test_a_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(SourceError, match=r"corrupt\.mp4") as info:
        frames_of(str(bad))
    assert not info.value.retriable
    with pytest.raises(SourceError, match="no such file"):
        frames_of(str(tmp_path / "missing.mp4"))


def test_a_truncated_file_yields_what_it_has(clip: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mkv"
    write_scene_video(cut, seconds=2, fps=25, width=160, height=96)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    frames = frames_of(str(cut), keyframe_only=False)
    assert 0 < len(frames) < 50


def test_synthetic_source_attaches_the_truth() -> None:
    frames = frames_of(f"synthetic:crossing?seed=2&duration=6&fps=5&start={START}")
    scene = Scene(SceneSpec(seed=2))
    assert len(frames) == 30
    assert [f.ts_us for f in frames[:2]] == [START, START + 200_000]
    for f in frames:
        assert f.truth == scene.truth_at(f.pts_s)
        assert f.bgr().shape == (360, 640, 3)


class _Snapshots(http.server.BaseHTTPRequestHandler):
    jpeg = encode_jpeg(np.full((48, 64, 3), 90, dtype=np.uint8))
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.path == "/broken" or (self.path == "/flaky" and type(self).hits % 3 == 1):
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.jpeg)))
        self.end_headers()
        self.wfile.write(self.jpeg)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def snapshot_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Snapshots)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_snapshots_are_polled_and_failures_back_off(snapshot_server: str) -> None:
    stop = threading.Event()
    reconnects: list[str] = []
    ctx = SourceContext(
        camera_id="c",
        fps=20,
        stop=stop,
        backoff=BackoffPolicy(initial_s=0.01, max_s=0.02),
        on_reconnect=reconnects.append,
    )
    source = open_source(parse_source(snapshot_server + "/flaky"), ctx)
    got = []
    for frame in source.frames():
        got.append(frame)
        if len(got) == 4:
            stop.set()
    assert [f.bgr().shape for f in got] == [(48, 64, 3)] * 4
    assert reconnects and "HTTP 503" in reconnects[0]


def test_http_source_gives_up_after_max_attempts(snapshot_server: str) -> None:
    ctx = SourceContext(
        camera_id="c", fps=20, backoff=BackoffPolicy(initial_s=0.01, max_s=0.01, max_attempts=2)
    )
    with pytest.raises(SourceError, match="gave up after 2"):
        list(open_source(parse_source(snapshot_server + "/broken"), ctx).frames())
