"""Alert clips cut from real recorded segments: the range from a keyframe, across segments,
playable, the source's own packets, gaps reported."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from producers.evidence import decode_spooled
from producers.evidence_store import S3EvidenceStore
from producers.metrics import EdgeMetrics
from producers.outbox import EventOutbox
from producers.recording.clip import SegmentRef, clip_range, covering, cut, gaps
from producers.recording.errors import ClipError
from producers.recording.library import alert_uuid
from producers.recording.recorder import CameraRecorder
from producers.recording.spec import RecordSpec, recording_key
from producers.sources.base import SourceContext
from producers.sources.factory import open_source, parse_source
from producers.spool import Spool
from producers.synthetic.scene import SceneSpec
from producers.synthetic.video import write_scene_video

START = 1_700_000_000_000_000
S = 1_000_000


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, int]]]:
    """The source (8 s, 1 s GOP) and its 2 s segments as files, recorded by the edge's recorder."""
    tmp = tmp_path_factory.mktemp("clip")
    src = tmp / "src.mp4"
    write_scene_video(
        src, scene=SceneSpec(seed=5), seconds=8, fps=25, width=320, height=180, gop=25,
        codec="libx264",
    )  # fmt: skip
    spool = Spool(tmp / "evidence", name="evidence")
    store = S3EvidenceStore(None, "vidsight", spool, EdgeMetrics())
    outbox = EventOutbox(Spool(tmp / "events", name="events"), tmp / "schemas")
    spec = RecordSpec("continuous", segment_s=2)
    recorder = CameraRecorder("cam-c", spec, tmp / "parts", store, outbox.publish_recording)
    ctx = SourceContext(camera_id="cam-c", fps=5, packets=recorder)
    for _ in open_source(parse_source(f"file://{src}?start={START}"), ctx).frames():
        pass
    files = []
    for rec in spool.read():
        obj = decode_spooled(rec.payload)
        start = int(obj.key.rsplit("/", 1)[1].removesuffix(".mp4"))
        assert obj.key == recording_key("cam-c", start)
        path = tmp / f"seg-{start}.mp4"
        path.write_bytes(obj.data)
        files.append((path, start))
    assert [s for _, s in files] == [START + i * 2 * S for i in range(4)]
    return src, files


def packets_of(path: Path) -> list[tuple[int, bool, float]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        tb = float(s.time_base or 0)
        return [(p.size, p.is_keyframe, (p.pts or 0) * tb) for p in c.demux(s) if p.size]


def test_a_clip_across_segments_starts_at_a_keyframe_and_holds_the_source_packets(
    recorded: tuple[Path, list[tuple[Path, int]]], tmp_path: Path
) -> None:
    src, files = recorded
    out = tmp_path / "clip.mp4"
    info = cut(files, START + 2_500_000, START + 5_300_000, out)
    # From the keyframe at 2 s (before 2.5 s) to the last packet before 5.3 s.
    assert info.start_us == START + 2 * S
    assert info.end_us == START + 5_300_000
    assert info.segments == 2 and info.note is None
    source = packets_of(src)
    clip = packets_of(out)
    assert [(size, key) for size, key, _ in clip] == [(z, k) for z, k, _ in source[50:133]]
    assert clip[0][1] and clip[0][2] == 0.0
    assert clip[-1][2] == pytest.approx(82 * 0.04)
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 83
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "faststart: playable while downloading"


def test_a_range_outside_the_recording_is_a_clear_error(
    recorded: tuple[Path, list[tuple[Path, int]]], tmp_path: Path
) -> None:
    _, files = recorded
    with pytest.raises(ClipError, match="no recorded packet"):
        cut(files, START + 20 * S, START + 30 * S, tmp_path / "none.mp4")


def test_segments_covering_a_range_and_its_gaps() -> None:
    segs = [
        SegmentRef("c", a, b, f"s3://vidsight/{a}", "0" * 64, 1)
        for a, b in [(0, 10), (10, 20), (30, 40), (40, 50)]
    ]
    found = covering(reversed(segs), 5, 35)
    assert [s.start_us for s in found] == [0, 10, 30]
    assert gaps(found, 5, 35) == [(20, 30)]
    assert gaps(found, 5, 45) == [(20, 30), (40, 45)]
    assert covering(segs, 20, 30) == []


def test_the_alert_range_has_pre_and_post_roll_and_a_cap() -> None:
    assert clip_range(100 * S, 110 * S, pre_s=2, post_s=3, max_s=600) == (98 * S, 113 * S)
    assert clip_range(100 * S, None, pre_s=2, post_s=3, max_s=600) == (98 * S, 103 * S)
    assert clip_range(100 * S, 10_000 * S, pre_s=2, post_s=3, max_s=60) == (98 * S, 158 * S)


def test_alert_ids_must_be_uuids() -> None:
    assert alert_uuid(" 6F9619FF-8B86-D011-B42D-00C04FC964FF ") == (
        "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    )
    for bad in ["x", "../../etc/passwd", "1; DROP TABLE alerts", "a" * 100]:
        with pytest.raises(ClipError, match="not a UUID"):
            alert_uuid(bad)
