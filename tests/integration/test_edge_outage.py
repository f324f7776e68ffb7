"""Store-and-forward: the broker is unreachable for 30 s (and the edge is killed with SIGKILL
during the outage), S3 is down for a while: after they come back every event and image
arrives, each camera's events in order.

These tests run a stack of their own (S3, Kafka, schema registry) so they can take its broker
away without disturbing the session stack. The broker is frozen with SIGSTOP and resumed with
SIGCONT rather than terminated and restarted: the local Tansu broker, restarted, resumes some
partitions at a stale high watermark and overwrites records it had acknowledged, which would
make the broker, not the edge, lose events (reported; a real Kafka cluster keeps them).
A frozen broker is the harder case for a client anyway: connections hang instead of failing.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import boto3
import pytest
from botocore.config import Config
from confluent_kafka import Consumer, TopicPartition

from infra.stack import Stack
from infra.stack.process import PidFile
from infra.stack.settings import StackEndpoints, StackSettings
from producers.config import Camera
from producers.events import decode_event
from producers.runner import EdgeRunner
from producers.settings import EdgeSettings
from producers.spool import Spool
from producers.synthetic.video import write_scene_video
from schemas import catalog
from schemas.records import FrameRef
from schemas.serde import InMemorySchemaResolver, Serde
from schemas.topics import create_topics
from vidsight.settings import load

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
OUTAGE_S = 30.0


@pytest.fixture(scope="module")
def own_stack(
    tmp_path_factory: pytest.TempPathFactory, stack_settings_factory: Callable[..., StackSettings]
) -> Iterator[tuple[Stack, StackEndpoints]]:
    data_dir = tmp_path_factory.mktemp("edge-outage-stack")
    settings = stack_settings_factory(data_dir)
    stack = Stack(settings, ["s3", "kafka", "schema-registry"])
    try:
        stack.up()
        # Addresses and the credentials generated at `up`, as every client reads them.
        endpoints = load(StackEndpoints, data_dir=data_dir)
        create_topics(endpoints.kafka_client_config())
        yield stack, endpoints
    finally:
        stack.down()


def frames_on_broker(
    endpoints: StackEndpoints,
    cameras: set[str],
    until: Callable[[dict[str, list[int]]], bool],
    timeout_s: float,
) -> dict[str, list[int]]:
    """FrameRef seqs per camera in partition order, read from offset 0 until ``until`` holds."""
    serde = Serde.for_registry(endpoints)
    codec = serde.topic(catalog.FRAMES, FrameRef)
    consumer = Consumer(
        endpoints.kafka_client_config(
            **{
                "group.id": f"edge-outage-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            }
        )
    )
    consumer.assign([TopicPartition(catalog.FRAMES, p, 0) for p in range(12)])
    seqs: dict[str, list[int]] = {c: [] for c in cameras}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not until(seqs):
            for msg in consumer.consume(500, timeout=0.5):
                key = (msg.key() or b"").decode()
                if msg.error() or key not in cameras:
                    continue
                seqs[key].append(codec.decode(msg.value()).seq)
    finally:
        consumer.close()
    return seqs


def spooled_frame_seqs(spool_dir: Path) -> dict[str, list[int]]:
    """The FrameRef seqs still waiting in a spool (the spool's owner must be gone)."""
    codec = Serde(InMemorySchemaResolver()).topic(catalog.FRAMES, FrameRef)
    header = codec.encode(
        FrameRef(
            event_id="00000000-0000-0000-0000-000000000000",
            camera_id="x",
            frame_ts=0,
            seq=0,
            width=1,
            height=1,
            motion_score=0.0,
        )
    )[:5]
    spool = Spool(spool_dir)
    out: dict[str, list[int]] = {}
    try:
        while records := spool.read(max_records=5000):
            for rec in records:
                event = decode_event(rec.payload)
                if event.topic == catalog.FRAMES:
                    frame = codec.decode(header + event.value)
                    out.setdefault(frame.camera_id, []).append(frame.seq)
    finally:
        spool.close()
    return out


def first_occurrences(seqs: list[int]) -> list[int]:
    seen: set[int] = set()
    return [s for s in seqs if not (s in seen or seen.add(s))]  # type: ignore[func-returns-value]


def edge_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "producers", "-v", "edge", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_broker_outage_and_kill_9_lose_nothing(
    own_stack: tuple[Stack, StackEndpoints], tmp_path: Path
) -> None:
    stack, endpoints = own_stack
    run = uuid.uuid4().hex[:6]
    spool = tmp_path / "spool"
    env = {**os.environ, **stack.endpoints_env(), "VIDSIGHT_SPOOL_FSYNC": "never"}
    live = {f"live-{run}-{i}" for i in range(3)}
    (tmp_path / "live.yaml").write_text(
        "cameras:\n"
        + "".join(
            f"  - {{id: {cam}, source: 'synthetic:crossing?seed={i}&realtime=true', fps: 5,"
            f" detector: {{kind: ground_truth}}}}\n"
            for i, cam in enumerate(sorted(live))
        )
    )
    clip = tmp_path / "clip.mp4"
    write_scene_video(clip, seconds=8, fps=25, width=320, height=180)
    fcam = f"file-{run}"
    (tmp_path / "file.yaml").write_text(
        f"cameras:\n  - {{id: {fcam}, source: 'file://{clip}', fps: 5,"
        " detector: {kind: motion}}\n"
    )
    log = tmp_path / "edge.log"

    # 1. Live cameras publish normally.
    kafka = None
    first = edge_process(
        ["run", "-c", str(tmp_path / "live.yaml"), "--spool-dir", str(spool)], env, log
    )
    try:
        before = frames_on_broker(
            endpoints, live, lambda s: all(len(v) >= 5 for v in s.values()), 60
        )
        assert all(len(v) >= 5 for v in before.values()), log.read_text()[-3000:]

        # 2. The broker goes away; the edge keeps spooling, then is killed with SIGKILL.
        kafka = PidFile(stack.run_dir, "kafka").running()
        assert kafka is not None
        os.killpg(kafka.pid, signal.SIGSTOP)
        outage_started = time.monotonic()
        time.sleep(8)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    except BaseException:
        if kafka is not None:
            os.killpg(kafka.pid, signal.SIGCONT)
        raise
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    pending = spooled_frame_seqs(spool / "events")
    assert set(pending) >= live and all(len(v) >= 20 for v in pending.values())
    last_seq = {cam: max(pending[cam]) for cam in live}

    # 3. A new edge process, started while the broker is still down, drains the spool and runs
    #    a file camera; a file source without loop ends the run once everything is delivered.
    second = edge_process(
        [
            "run",
            "-c",
            str(tmp_path / "file.yaml"),
            "--spool-dir",
            str(spool),
            "--drain-timeout",
            "120",
        ],
        env,
        log,
    )
    try:
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
        os.killpg(kafka.pid, signal.SIGCONT)  # the broker is back
        assert second.wait(150) == 0, log.read_text()[-4000:]
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()

    # 4. Every event the killed process spooled arrived, in order per camera; the file camera's too.
    everything = live | {fcam}

    def complete(s: dict[str, list[int]]) -> bool:
        return (
            all(set(range(last_seq[c] + 1)) <= set(s[c]) for c in live) and len(set(s[fcam])) >= 40
        )

    after = frames_on_broker(endpoints, everything, complete, 90)
    for cam in live:
        got = first_occurrences(after[cam])
        assert set(range(last_seq[cam] + 1)) <= set(got), cam
        assert got == sorted(got), cam  # in order (re-sent duplicates only repeat a suffix)
    assert first_occurrences(after[fcam]) == list(range(40))


@pytest.fixture
def s3_later(
    own_stack: tuple[Stack, StackEndpoints],
    tmp_path: Path,
    stack_settings_factory: Callable[..., StackSettings],
) -> Iterator[Stack]:
    """An S3 server that is not running yet: the test starts it with ``up()``.

    It takes the own stack's S3 key pair, so the edge's one set of credentials fits both.
    """
    _, endpoints = own_stack
    settings = stack_settings_factory(tmp_path / "s3-later", s3_secret_key=endpoints.s3_secret_key)
    stack = Stack(settings, ["s3"])
    try:
        yield stack
    finally:
        stack.down()


def test_s3_outage_spools_evidence_and_uploads_it_later(
    own_stack: tuple[Stack, StackEndpoints], s3_later: Stack, tmp_path: Path
) -> None:
    _, endpoints = own_stack
    later = s3_later.endpoints()
    values = {**endpoints.model_dump(), "s3_endpoint": later["s3_endpoint"], "data_dir": tmp_path}
    settings = EdgeSettings(
        **values, spool_dir=tmp_path / "spool", s3_timeout_s=1.0, drain_timeout_s=90
    )
    cam = f"s3down-{uuid.uuid4().hex[:6]}"
    camera = Camera(
        cam, cam, "synthetic:crossing?seed=5&duration=20", 5.0, "ground_truth", MappingProxyType({})
    )
    runner = EdgeRunner(settings, [camera])
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(report=runner.run()))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            runner.workers and runner.workers[0].status.done
        ):
            time.sleep(0.2)
        status = runner.workers[0].status
        assert status.state == "finished"
        time.sleep(1.0)
        # The evidence spool is locked by the runner: read its depth from the metrics.
        pending = runner.metrics.spool_records.labels("evidence")._value.get()
        assert pending > 50
        s3_later.up()  # S3 is back: the evidence drains and the run ends
    finally:
        thread.join(120)
    report = result["report"]
    assert report.drained and report.evidence is not None and report.evidence.pending_records == 0
    assert report.evidence_uploaded == pending
    # events (and heartbeats) flowed while S3 was down
    assert report.delivered == status.events + report.heartbeats

    client = boto3.client(
        "s3",
        endpoint_url=later["s3_endpoint"],
        region_name="us-east-1",
        aws_access_key_id=later["s3_access_key"],
        aws_secret_access_key=endpoints.s3_secret_key.get_secret_value(),
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    listed = client.list_objects_v2(Bucket=later["s3_bucket"], Prefix=f"evidence/{cam}/")
    keys = {o["Key"]: o["Size"] for o in listed.get("Contents", [])}
    assert len(keys) == pending
    key = sorted(keys)[0]
    data = client.get_object(Bucket=later["s3_bucket"], Key=key)["Body"].read()
    assert len(data) == keys[key] and hashlib.sha256(data).hexdigest()
