"""The edge end to end on the real local stack: files, synthetic scenes and RTSP in, events on
Kafka and JPEG evidence in S3 out, matching the scenes' ground truth; failing cameras stay
isolated."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.config import Config
from confluent_kafka import Consumer, TopicPartition

from producers.config import Camera, load_cameras_text, to_record
from producers.imaging import decode_image
from producers.publish import publish_camera_configs
from producers.runner import EdgeRunner
from producers.settings import EdgeSettings
from producers.sources.backoff import BackoffPolicy
from producers.sources.base import SourceContext
from producers.sources.factory import open_source, parse_source
from producers.synthetic.scene import Scene, SceneSpec
from producers.synthetic.video import write_scene_video
from producers.tracking import iou_matrix
from schemas import catalog
from schemas.records import CameraConfig, Detections, FrameRef
from schemas.serde import Serde

pytestmark = pytest.mark.integration

START = 1_700_000_000_000_000


def edge_settings(stack: Any, tmp: Path, **overrides: Any) -> EdgeSettings:
    values = {**stack.endpoints.model_dump(), "data_dir": tmp, "spool_dir": tmp / "spool"}
    values.update(overrides)
    return EdgeSettings(**values)


def camera(cid: str, source: str, kind: str, fps: float = 5.0, **options: Any) -> Camera:
    return Camera(cid, cid, source, fps, kind, MappingProxyType(options))


def consume(
    stack: Any, cameras: set[str], want: dict[str, int], timeout_s: float = 60
) -> dict[str, list[tuple[int, Any]]]:
    """Every record of ``cameras`` on the topics, with partitions, in partition order.

    Reads each partition from offset 0 and stops once ``want[topic]`` distinct event ids per
    topic arrived (end offsets of the local broker cannot be trusted).
    """
    serde = Serde.for_registry(stack.endpoints)
    codecs: dict[str, Any] = {
        catalog.FRAMES: serde.topic(catalog.FRAMES, FrameRef),
        catalog.DETECTIONS: serde.topic(catalog.DETECTIONS, Detections),
    }
    consumer = Consumer(
        stack.endpoints.kafka_client_config(
            **{
                "group.id": f"edge-test-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            }
        )
    )
    consumer.assign(
        [TopicPartition(t, p, 0) for t in want for p in range(catalog.topic(t).partitions)]
    )
    out: dict[str, list[tuple[int, Any]]] = {t: [] for t in want}
    seen: dict[str, set[str]] = {t: set() for t in want}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and any(len(seen[t]) < n for t, n in want.items()):
            for msg in consumer.consume(500, timeout=0.5):
                topic, key = msg.topic() or "", (msg.key() or b"").decode()
                if msg.error() or key not in cameras:
                    continue
                record: Any = codecs[topic].decode(msg.value() or b"")
                out[topic].append((msg.partition() or 0, record))
                seen[topic].add(record.event_id)
    finally:
        consumer.close()
    return out


def s3(stack: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        aws_access_key_id=stack.s3_access_key,
        aws_secret_access_key=stack.s3_secret_key,
        region_name="us-east-1",
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("edge-video") / "gate.mp4"
    write_scene_video(path, scene=SceneSpec(seed=21), seconds=24, fps=25, width=640, height=360)
    return path


def test_file_and_synthetic_cameras_publish_the_ground_truth(
    catalog_topics: Any, tmp_path: Path, clip: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    gt, mo, fl = f"gt-{run}", f"mo-{run}", f"file-{run}"
    cams = [
        camera(gt, f"synthetic:crossing?seed=7&duration=40&start={START}", "ground_truth"),
        camera(mo, f"synthetic:crossing?seed=8&duration=40&fps=10&start={START}", "motion"),
        camera(fl, f"file://{clip}?start={START}", "motion"),
    ]
    report = EdgeRunner(edge_settings(catalog_topics, tmp_path), cams).run()
    assert [c.state for c in report.cameras] == ["finished"] * 3, report
    assert report.drained and report.events.pending_records == 0
    statuses = {c.camera_id: c for c in report.cameras}
    assert statuses[fl].frames_decoded == 600 and statuses[fl].frames_sampled == 120
    frames_n = sum(c.frames_sampled for c in report.cameras)
    dets_n = sum(c.events for c in report.cameras) - frames_n
    got = consume(
        catalog_topics, {gt, mo, fl}, {catalog.FRAMES: frames_n, catalog.DETECTIONS: dets_n}
    )
    assert len(got[catalog.FRAMES]) == frames_n and len(got[catalog.DETECTIONS]) == dets_n

    for cam in (gt, mo, fl):
        frames = [(p, r) for p, r in got[catalog.FRAMES] if r.camera_id == cam]
        assert len({p for p, _ in frames}) == 1  # one partition per camera: ordered
        assert [r.seq for _, r in frames] == list(range(len(frames)))

    # Ground truth detector: exact boxes, labels, and the scene's object ids as track ids
    # (offset by the first analysed frame's time, so a restarted camera's ids are new).
    scene = Scene(SceneSpec(seed=7))
    gt_dets = [r for _, r in got[catalog.DETECTIONS] if r.camera_id == gt]
    assert len(gt_dets) > 150
    base = min(r.frame_ts for _, r in got[catalog.FRAMES] if r.camera_id == gt)
    for d in gt_dets:
        truth = scene.truth_at((d.frame_ts - START) / 1e6)
        assert [(o.track_id, o.label, o.bbox) for o in d.objects] == [
            (base + t.object_id, t.label, t.bbox) for t in truth
        ]

    # Motion detector on a synthetic camera and on the H.264 file of another scene: every
    # object gets one track id of its own, boxes close to the truth.
    for cam, seed in ((mo, 8), (fl, 21)):
        truth_scene = Scene(SceneSpec(seed=seed))
        tracks: dict[int, set[int]] = {}
        ious = []
        for _, d in ((p, r) for p, r in got[catalog.DETECTIONS] if r.camera_id == cam):
            visible = [
                t for t in truth_scene.truth_at((d.frame_ts - START) / 1e6) if t.bbox.area > 0.004
            ]
            if not visible:
                continue
            m = iou_matrix(
                np.array([(t.bbox.x1, t.bbox.y1, t.bbox.x2, t.bbox.y2) for t in visible]),
                np.array([(o.bbox.x1, o.bbox.y1, o.bbox.x2, o.bbox.y2) for o in d.objects]),
            )
            for i, t in enumerate(visible):
                j = int(m[i].argmax())
                ious.append(m[i, j])
                if m[i, j] > 0.5:
                    tracks.setdefault(t.object_id, set()).add(d.objects[j].track_id)
        assert len(tracks) >= 5, cam
        assert all(len(ids) == 1 for ids in tracks.values()), (cam, tracks)
        assert len({min(ids) for ids in tracks.values()}) == len(tracks)
        assert float(np.median(ious)) > 0.8, cam

    # Evidence: every referenced JPEG is in S3 at the DESIGN.md key, with the same digest.
    client = s3(catalog_topics)
    refs = [r for _, r in got[catalog.FRAMES] if r.evidence_uri]
    assert len(refs) == sum(1 for _, d in got[catalog.DETECTIONS] if d.evidence_uri)
    for ref in refs[:: max(1, len(refs) // 15)]:
        bucket, key = ref.evidence_uri.removeprefix("s3://").split("/", 1)
        assert key.startswith(f"evidence/{ref.camera_id}/2023/11/14/22/{ref.frame_ts}")
        body = client.get_object(Bucket=bucket, Key=key)
        data = body["Body"].read()
        assert len(data) == ref.evidence_bytes
        assert hashlib.sha256(data).hexdigest() == ref.evidence_sha256
        # (The object also carries x-amz-meta-sha256; the local rclone server drops metadata.)
        assert decode_image(data) is not None


def test_cameras_apply_publishes_configs(catalog_topics: Any) -> None:
    run = uuid.uuid4().hex[:6]
    text = (
        f"cameras:\n  - {{id: a-{run}, name: Gate, source: 'rtsp://10.0.0.5/s1', fps: 5,"
        f" detector: {{kind: motion, min_area: 0.002}}}}\n"
        f"  - {{id: b-{run}, source: 'synthetic:crossing', detector: {{kind: ground_truth}}}}\n"
    )
    records = [to_record(c, START) for c in load_cameras_text(text)]
    publish_camera_configs(catalog_topics.endpoints, records)
    serde = Serde.for_registry(catalog_topics.endpoints)
    codec = serde.topic(catalog.CONFIG_CAMERAS, CameraConfig)
    consumer = Consumer(
        catalog_topics.endpoints.kafka_client_config(
            **{"group.id": f"edge-test-{run}", "enable.auto.commit": False}
        )
    )
    consumer.assign([TopicPartition(catalog.CONFIG_CAMERAS, 0, 0)])
    found: dict[str, CameraConfig] = {}
    deadline = time.monotonic() + 30
    while len(found) < 2 and time.monotonic() < deadline:
        for msg in consumer.consume(100, timeout=0.5):
            key = (msg.key() or b"").decode()
            if not msg.error() and key.endswith(run):
                found[key] = codec.decode(msg.value())
    consumer.close()
    assert found == {r.camera_id: r for r in records}


@pytest.fixture
def rtsp_server(tmp_path: Path) -> Iterator[str]:
    """An RTSP server (aio-rtsp-toolkit) publishing a 6.5 s H.264 clip over RTSP/TCP."""
    from infra.stack.process import free_port

    media = tmp_path / "media"
    media.mkdir()
    write_scene_video(
        media / "gate.mp4", scene=SceneSpec(seed=21), seconds=6.5, fps=25, width=640, height=360
    )
    port = free_port()
    code = (
        "import asyncio, sys, aio_rtsp_toolkit.server as s; "
        "asyncio.run(s.serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2])))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(media), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    try:
        yield f"rtsp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_an_rtsp_stream_is_consumed_and_reconnected(rtsp_server: str) -> None:
    stop = threading.Event()
    reconnects: list[str] = []
    ctx = SourceContext(
        camera_id="rtsp",
        fps=5,
        stop=stop,
        backoff=BackoffPolicy(initial_s=0.2, max_s=0.5),
        on_reconnect=reconnects.append,
    )
    # play_count=1: the server ends the stream after one play, the source must reconnect.
    source = open_source(parse_source(f"{rtsp_server}/gate.mp4?play_count=1"), ctx)
    frames: list[tuple[float, int, Any]] = []
    guard = threading.Timer(60, stop.set)  # a live source never ends by itself
    guard.start()
    try:
        for frame in source.frames():
            if reconnects:
                break
            if len(frames) < 150:
                frames.append((frame.pts_s, frame.ts_us, frame.luma().copy()))
    finally:
        guard.cancel()
        stop.set()
    assert len(frames) == 150 and reconnects, (len(frames), reconnects)
    assert "stream ended" in reconnects[0]
    pts = [p for p, _, _ in frames]
    assert pts == sorted(pts)
    # Frame 125 (t = 5 s) shows the scene's objects where the truth says.
    truth = Scene(SceneSpec(seed=21)).truth_at(5.0)
    luma = frames[125][2]
    for t in truth:
        if t.bbox.area > 0.005:
            cx = int((t.bbox.x1 + t.bbox.x2) / 2 * 640)
            cy = int((t.bbox.y1 + t.bbox.y2) / 2 * 360)
            assert abs(int(luma[cy, cx]) - 118) > 50


def test_failing_cameras_are_isolated(catalog_topics: Any, tmp_path: Path, clip: Path) -> None:
    from infra.stack.process import free_port

    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    run = uuid.uuid4().hex[:6]
    good = f"good-{run}"
    cams = [
        camera(f"corrupt-{run}", f"file://{corrupt}", "motion"),
        camera(f"dead-{run}", f"rtsp://127.0.0.1:{free_port()}/stream", "motion"),
        camera(good, f"synthetic:crossing?seed=3&duration=30&start={START}", "ground_truth"),
        camera(f"badmodel-{run}", "synthetic:crossing", "onnx", model="/nonexistent.onnx"),
    ]
    settings = edge_settings(
        catalog_topics,
        tmp_path,
        reconnect_initial_s=0.2,
        reconnect_max_s=0.4,
        reconnect_max_attempts=3,
    )
    report = EdgeRunner(settings, cams).run()
    st = {c.camera_id.split("-")[0]: c for c in report.cameras}
    assert st["good"].state == "finished" and st["good"].frames_sampled == 150
    assert st["corrupt"].state == "failed"
    assert "corrupt.mp4" in (st["corrupt"].error or "")
    assert "Invalid data" in (st["corrupt"].error or "")
    assert st["dead"].state == "failed" and st["dead"].reconnects == 3
    assert "gave up after 3 failed attempts" in (st["dead"].error or "")
    assert "Connection refused" in (st["dead"].error or "")
    assert st["badmodel"].state == "failed" and "does not exist" in (st["badmodel"].error or "")
    assert report.drained and report.delivered >= 150
    got = consume(catalog_topics, {good}, {catalog.FRAMES: 150})
    assert len(got[catalog.FRAMES]) == 150
