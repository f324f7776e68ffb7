"""Recording survives a broker and an S3 outage at once: segments wait in the evidence spool,
their references in the event spool, and both arrive once the servers are back.

A stack of its own (S3, Kafka, schema registry), as in test_edge_outage: the broker is frozen
with SIGSTOP (connections hang, the harder case for a client) and S3 is a server that only
starts later."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import av
import boto3
import pytest
from botocore.config import Config
from confluent_kafka import Consumer, TopicPartition

from infra.stack import Stack
from infra.stack.process import PidFile
from infra.stack.settings import StackEndpoints, StackSettings
from producers.config import Camera
from producers.recording.spec import RecordSpec, recording_key
from producers.runner import EdgeRunner
from producers.settings import EdgeSettings
from producers.synthetic.scene import SceneSpec
from producers.synthetic.video import write_scene_video
from schemas import catalog
from schemas.records import RecordingSegment
from schemas.serde import Serde
from schemas.topics import create_topics
from vidsight.settings import load

pytestmark = pytest.mark.integration

S = 1_000_000


@pytest.fixture(scope="module")
def rec_stack(
    tmp_path_factory: pytest.TempPathFactory, stack_settings_factory: Callable[..., StackSettings]
) -> Iterator[tuple[Stack, StackEndpoints]]:
    data_dir = tmp_path_factory.mktemp("recording-outage-stack")
    stack = Stack(stack_settings_factory(data_dir), ["s3", "kafka", "schema-registry"])
    try:
        stack.up()
        endpoints = load(StackEndpoints, data_dir=data_dir)
        create_topics(endpoints.kafka_client_config())
        yield stack, endpoints
    finally:
        stack.down()


@pytest.fixture
def s3_later(
    rec_stack: tuple[Stack, StackEndpoints],
    tmp_path: Path,
    stack_settings_factory: Callable[..., StackSettings],
) -> Iterator[Stack]:
    """An S3 server, with the stack's key pair, that the test starts with ``up()``."""
    _, endpoints = rec_stack
    settings = stack_settings_factory(tmp_path / "s3-later", s3_secret_key=endpoints.s3_secret_key)
    stack = Stack(settings, ["s3"])
    try:
        yield stack
    finally:
        stack.down()


def segments_on_broker(endpoints: StackEndpoints, cam: str, want: int) -> list[RecordingSegment]:
    codec = Serde.for_registry(endpoints).topic(catalog.RECORDINGS, RecordingSegment)
    consumer = Consumer(
        endpoints.kafka_client_config(
            **{
                "group.id": f"rec-outage-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            }
        )
    )
    consumer.assign([TopicPartition(catalog.RECORDINGS, p, 0) for p in range(12)])
    found: dict[str, RecordingSegment] = {}
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(found) < want:
            for msg in consumer.consume(100, timeout=0.5):
                if msg.error() or (msg.key() or b"").decode() != cam:
                    continue
                seg = codec.decode(msg.value())
                found[seg.segment_id] = seg
    finally:
        consumer.close()
    return sorted(found.values(), key=lambda s: s.start_ts)


def test_segments_survive_a_broker_and_s3_outage_through_the_spools(
    rec_stack: tuple[Stack, StackEndpoints], s3_later: Stack, tmp_path: Path
) -> None:
    stack, endpoints = rec_stack
    later = s3_later.endpoints()
    src = tmp_path / "src.mp4"
    write_scene_video(
        src, scene=SceneSpec(seed=13), seconds=6, fps=25, width=320, height=180, gop=25,
        codec="libx264",
    )  # fmt: skip
    start = 1_700_000_000_000_000
    cam = f"recout-{uuid.uuid4().hex[:6]}"
    settings = EdgeSettings(
        **{
            **endpoints.model_dump(),
            "s3_endpoint": later["s3_endpoint"],
            "data_dir": tmp_path,
            "spool_dir": tmp_path / "spool",
            "evidence": False,  # only the recordings go through the evidence spool
            "s3_timeout_s": 1.0,
            "drain_timeout_s": 120,
        }
    )
    camera = Camera(
        cam, cam, f"file://{src}?start={start}", 5.0, "motion", MappingProxyType({}),
        record=RecordSpec("continuous", segment_s=2),
    )  # fmt: skip
    kafka = PidFile(stack.run_dir, "kafka").running()
    assert kafka is not None
    os.killpg(kafka.pid, signal.SIGSTOP)
    runner = EdgeRunner(settings, [camera])
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(report=runner.run()))
    try:
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            runner.workers and runner.workers[0].status.done
        ):
            time.sleep(0.2)
        status = runner.workers[0].status
        assert status.state == "finished" and status.segments == 3
        time.sleep(1.0)
        # Nothing could leave: the segments wait in the evidence spool (their references in
        # the event spool: the broker has been frozen since before the edge started).
        assert runner.metrics.spool_records.labels("evidence")._value.get() == 3
        assert not list((tmp_path / "spool" / "recordings" / cam).glob("*.part"))
    finally:
        os.killpg(kafka.pid, signal.SIGCONT)  # the broker is back
        s3_later.up()  # and S3
        thread.join(150)
    report = result["report"]
    assert report.drained and report.evidence is not None
    assert report.evidence.pending_records == 0 and report.evidence_uploaded == 3

    segments = segments_on_broker(endpoints, cam, 3)
    assert [(s.start_ts, s.end_ts) for s in segments] == [
        (start + i * 2 * S, start + (i + 1) * 2 * S) for i in range(3)
    ]
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
    for seg in segments:
        key = recording_key(cam, seg.start_ts)
        assert seg.uri == f"s3://{later['s3_bucket']}/{key}"
        data = client.get_object(Bucket=later["s3_bucket"], Key=key)["Body"].read()
        assert len(data) == seg.bytes and hashlib.sha256(data).hexdigest() == seg.sha256
        path = tmp_path / f"{seg.start_ts}.mp4"
        path.write_bytes(data)
        with av.open(str(path)) as c:
            assert sum(1 for _ in c.decode(video=0)) == seg.packets == 50
