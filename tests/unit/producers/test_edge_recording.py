"""Recording from a real H.264 file: segments cover the source without gaps or overlap, play
back, and hold the source's own packets (no re-encoding); spooled for upload with sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest

from producers.config import from_record, load_cameras_text, to_record
from producers.errors import CameraFileError
from producers.events import SchemaStash, decode_event
from producers.evidence import EvidenceObject, decode_spooled
from producers.evidence_store import S3EvidenceStore
from producers.metrics import EdgeMetrics
from producers.outbox import EventOutbox
from producers.recording.recorder import PART, CameraRecorder
from producers.recording.spec import RecordSpec, recording_key
from producers.sources.base import SourceContext
from producers.sources.factory import open_source, parse_source
from producers.spool import Spool
from producers.synthetic.scene import SceneSpec
from producers.synthetic.video import write_scene_video
from schemas import catalog
from schemas.records import (
    CameraConfig,
    RecordingMode,
    RecordingSegment,
    RecordSettings,
    recording_segment_id,
)
from schemas.serde import InMemorySchemaResolver, Serde

START = 1_700_000_000_000_000
S = 1_000_000


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of H.264 at 25 fps with a keyframe every second."""
    path = tmp_path_factory.mktemp("rec") / "src.mp4"
    write_scene_video(
        path,
        scene=SceneSpec(seed=3),
        seconds=6,
        fps=25,
        width=320,
        height=180,
        gop=25,
        codec="libx264",
    )
    return path


def source_packets(path: Path) -> tuple[list[tuple[int, bool]], Any]:
    """(size, keyframe) of every packet, and the codec parameters of the stream."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        params = (s.codec_context.name, s.codec_context.width, s.codec_context.height)
        extradata = bytes(s.codec_context.extradata or b"")
        packets = [(p.size, p.is_keyframe) for p in c.demux(s) if p.size]
    return packets, (params, extradata)


class Edge:
    """The real spools, evidence store (its drainer not started: S3 is not needed to queue)
    and outbox a recorder writes into, and a reader of what they hold."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.evidence_spool = Spool(tmp / "evidence", name="evidence")
        self.events_spool = Spool(tmp / "events", name="events")
        self.store = S3EvidenceStore(None, "vidsight", self.evidence_spool, EdgeMetrics())
        self.outbox = EventOutbox(self.events_spool, tmp / "schemas")

    def recorder(self, spec: RecordSpec, camera: str = "cam-r") -> CameraRecorder:
        return CameraRecorder(
            camera, spec, self.tmp / "parts" / camera, self.store, self.outbox.publish_recording
        )

    def objects(self) -> dict[str, EvidenceObject]:
        return {o.key: o for o in (decode_spooled(r.payload) for r in self.evidence_spool.read())}

    def segments(self) -> list[RecordingSegment]:
        serde = Serde(InMemorySchemaResolver())
        codec = serde.topic(catalog.RECORDINGS, RecordingSegment)
        stash = SchemaStash(self.tmp / "schemas")
        out = []
        for rec in self.events_spool.read():
            event = decode_event(rec.payload)
            assert event.topic == catalog.RECORDINGS
            assert stash.text(event.schema_fp) == catalog.schema_text("RecordingSegment")
            header = b"\x00" + codec.schema_id.to_bytes(4, "big")
            out.append(codec.decode(header + event.value))
        return out


def play(url: str, recorder: CameraRecorder, fps: float = 5, **ctx: Any) -> Iterator[Any]:
    context = SourceContext(camera_id=recorder.camera_id, fps=fps, packets=recorder, **ctx)
    yield from open_source(parse_source(url), context).frames()


def read_mp4(data: bytes, tmp: Path) -> tuple[list[tuple[int, bool, int]], Any, int]:
    path = tmp / "check.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        params = (s.codec_context.name, s.codec_context.width, s.codec_context.height)
        extradata = bytes(s.codec_context.extradata or b"")
        tb = float(s.time_base or 0)
        packets = [
            (p.size, p.is_keyframe, round((p.pts or 0) * tb * S)) for p in c.demux(s) if p.size
        ]
    with av.open(str(path)) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    return packets, (params, extradata), decoded


def test_continuous_segments_cover_the_file_and_hold_its_own_packets(
    h264: Path, tmp_path: Path
) -> None:
    edge = Edge(tmp_path)
    recorder = edge.recorder(RecordSpec("continuous", segment_s=2))
    frames = list(play(f"file://{h264}?start={START}", recorder))
    assert frames[0].ts_us == START

    segments = edge.segments()
    objects = edge.objects()
    source, source_codec = source_packets(h264)

    # Time: contiguous, from the first frame to the end of the last one.
    assert [(s.start_ts, s.end_ts) for s in segments] == [
        (START, START + 2 * S),
        (START + 2 * S, START + 4 * S),
        (START + 4 * S, START + 6 * S),
    ]
    recorded: list[tuple[int, bool]] = []
    for seg in segments:
        key = recording_key("cam-r", seg.start_ts)
        assert seg.uri == f"s3://vidsight/{key}"
        assert seg.segment_id == recording_segment_id("cam-r", seg.start_ts)
        assert (seg.codec, seg.width, seg.height) == ("h264", 320, 180)
        assert seg.keyframe_start and seg.mode == RecordingMode.CONTINUOUS
        obj = objects[key]
        assert seg.bytes == len(obj.data)
        assert seg.sha256 == obj.sha256 == hashlib.sha256(obj.data).hexdigest()
        packets, codec, decoded = read_mp4(obj.data, tmp_path)
        # Plays back: every packet decodes, the first one is a keyframe at time 0.
        assert decoded == len(packets) == seg.packets == 50
        assert packets[0][1] and packets[0][2] == 0
        assert packets[-1][2] == 49 * 40_000
        # Not re-encoded: the codec parameters and the packets are the source's.
        assert codec == source_codec
        recorded += [(size, key) for size, key, _ in packets]
    assert recorded == source
    assert not list((tmp_path / "parts" / "cam-r").iterdir()), "parts are removed once spooled"


def test_keyframe_only_decoding_still_records_every_packet(h264: Path, tmp_path: Path) -> None:
    edge = Edge(tmp_path)
    recorder = edge.recorder(RecordSpec("continuous", segment_s=10))
    frames = list(play(f"file://{h264}?start={START}", recorder, fps=0.5, keyframe_only=True))
    source, _ = source_packets(h264)
    assert len(frames) < len(source), "the decoder skipped non-key packets"
    (seg,) = edge.segments()
    assert seg.packets == len(source) == 150
    assert (seg.start_ts, seg.end_ts) == (START, START + 6 * S)


def test_a_looped_file_records_one_timeline(h264: Path, tmp_path: Path) -> None:
    edge = Edge(tmp_path)
    recorder = edge.recorder(RecordSpec("continuous", segment_s=10))
    for n, frame in enumerate(play(f"file://{h264}?start={START}&loop=true", recorder)):
        if n == 299:  # two plays
            break
        del frame
    segments = edge.segments()
    assert segments[0].start_ts == START
    assert segments[0].end_ts == START + 6 * S == segments[1].start_ts


def test_events_mode_keeps_only_the_time_around_detections(h264: Path, tmp_path: Path) -> None:
    edge = Edge(tmp_path)
    recorder = edge.recorder(RecordSpec("events", pre_s=1, post_s=1, segment_s=30))
    for frame in play(f"file://{h264}?start={START}", recorder, keyframe_only=False):
        if frame.ts_us == START + 3_000_000:
            recorder.activity(frame.ts_us)
    (seg,) = edge.segments()
    # From the keyframe at 2 s to the first keyframe after 4 s (5 s).
    assert (seg.start_ts, seg.end_ts) == (START + 2 * S, START + 5 * S)
    assert seg.mode == RecordingMode.EVENTS and seg.packets == 75
    packets, _, decoded = read_mp4(
        edge.objects()[recording_key("cam-r", seg.start_ts)].data, tmp_path
    )
    assert decoded == 75 and packets[0][1]


def test_a_segment_left_by_a_crash_is_stored_at_the_next_start(h264: Path, tmp_path: Path) -> None:
    edge = Edge(tmp_path)
    recorder = edge.recorder(RecordSpec("continuous", segment_s=60))
    frames = play(f"file://{h264}?start={START}", recorder, keyframe_only=False)
    for n, _ in enumerate(frames):
        if n == 80:
            break
    # The edge dies here: the open part is never finished (the generator is not closed).
    parts = list((tmp_path / "parts" / "cam-r").glob(f"*{PART}"))
    assert [p.name for p in parts] == [f"{START}{PART}"]
    crashed = parts[0].read_bytes()
    again = edge.recorder(RecordSpec("continuous", segment_s=60))
    assert again.recover() == 1
    (seg,) = edge.segments()
    assert seg.start_ts == START and seg.end_ts > START
    obj = edge.objects()[recording_key("cam-r", START)]
    assert obj.data == crashed
    packets, _, decoded = read_mp4(obj.data, tmp_path)
    assert decoded == len(packets) == seg.packets > 0
    assert seg.end_ts == START + len(packets) * 40_000


def test_the_record_block_travels_on_the_cameras_topic() -> None:
    (cam,) = load_cameras_text(
        "cameras:\n  - id: a\n    source: rtsp://10.0.0.5/s\n"
        "    record: {mode: continuous, segment_s: 20}\n"
    )
    record = to_record(cam, START)
    assert record.record == RecordSettings(
        mode=RecordingMode.CONTINUOUS, pre_s=5.0, post_s=5.0, segment_s=20.0
    )
    codec = Serde(InMemorySchemaResolver()).topic(catalog.CONFIG_CAMERAS, CameraConfig)
    assert from_record(codec.decode(codec.encode(record))) == cam
    (off,) = load_cameras_text("cameras:\n  - id: b\n    source: rtsp://10.0.0.5/s\n")
    assert to_record(off, START).record is None
    assert from_record(to_record(off, START)).record == RecordSpec()
    # A mode this edge does not know (a newer writer) records nothing.
    newer = replace(record, record=RecordSettings(mode=RecordingMode.UNKNOWN))
    assert not from_record(newer).record.on


def test_the_record_block_is_validated() -> None:
    cams = load_cameras_text(
        "cameras:\n  - id: a\n    source: file:///v.mp4\n"
        "    record: {mode: events, pre_s: 3, post_s: 4, segment_s: 8}\n"
    )
    assert cams[0].record == RecordSpec("events", 3.0, 4.0, 8.0)
    assert load_cameras_text("cameras:\n  - id: a\n    source: /v.mp4\n")[0].record.mode == "off"
    with pytest.raises(CameraFileError, match="never encodes"):
        load_cameras_text(
            "cameras:\n  - id: a\n    source: synthetic:crossing\n    record: {mode: continuous}\n"
        )
    with pytest.raises(CameraFileError, match=r"record\.mode"):
        load_cameras_text("cameras:\n  - id: a\n    source: /v.mp4\n    record: {mode: always}\n")
    with pytest.raises(CameraFileError, match=r"record\.pre_s"):
        load_cameras_text("cameras:\n  - id: a\n    source: /v.mp4\n    record: {pre_s: -1}\n")


def test_an_edge_run_records_around_detections_and_spools_it_all_offline(
    h264: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring: the cameras file's record block, the worker's recorder fed by the
    detector's findings, segments and references spooled while nothing is reachable."""
    import json
    import socket

    from click.testing import CliRunner

    from producers.cli import edge

    def dead_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    monkeypatch.setenv("VIDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIDSIGHT_KAFKA_BOOTSTRAP", f"127.0.0.1:{dead_port()}")
    monkeypatch.setenv("VIDSIGHT_REGISTRY_URL", f"http://127.0.0.1:{dead_port()}")
    monkeypatch.setenv("VIDSIGHT_S3_ENDPOINT", f"http://127.0.0.1:{dead_port()}")
    monkeypatch.setenv("VIDSIGHT_S3_TIMEOUT_S", "0.5")
    monkeypatch.delenv("VIDSIGHT_CONFIG", raising=False)
    cams = tmp_path / "cams.yaml"
    cams.write_text(
        f"cameras:\n  - id: rec-ev\n    source: file://{h264}?start={START}\n    fps: 5\n"
        "    detector: {kind: motion}\n"
        "    record: {mode: events, pre_s: 1, post_s: 1, segment_s: 30}\n"
    )
    result = CliRunner().invoke(edge, ["run", "-c", str(cams), "--drain-timeout", "0", "--json"])
    report = json.loads(result.output.strip().splitlines()[-1])
    (camera,) = report["cameras"]
    assert camera["state"] == "finished" and camera["objects"] > 0, result.output
    assert camera["segments"] >= 1

    events = Spool(tmp_path / "edge-spool" / "events")
    codec = Serde(InMemorySchemaResolver()).topic(catalog.RECORDINGS, RecordingSegment)
    header = b"\x00" + codec.schema_id.to_bytes(4, "big")
    segments = [
        codec.decode(header + e.value)
        for e in (decode_event(r.payload) for r in events.read(max_records=10_000))
        if e.topic == catalog.RECORDINGS
    ]
    events.close()
    assert len(segments) == camera["segments"]
    evidence = Spool(tmp_path / "edge-spool" / "evidence")
    videos = {
        o.key: o
        for o in (decode_spooled(r.payload) for r in evidence.read(max_records=10_000))
        if o.key.endswith(".mp4")
    }
    evidence.close()
    for seg in segments:
        assert seg.mode == RecordingMode.EVENTS
        assert START <= seg.start_ts < seg.end_ts <= START + 6 * S
        assert (seg.start_ts - START) % S == 0, "starts at a keyframe (one a second)"
        obj = videos[recording_key("rec-ev", seg.start_ts)]
        assert len(obj.data) == seg.bytes and obj.sha256 == seg.sha256
    assert not list((tmp_path / "edge-spool" / "recordings" / "rec-ev").glob(f"*{PART}"))
