"""The detections-path worker through the real broker and registry.

Inputs come from the synthetic scene (producers/synthetic), whose ground truth gives the exact
crossings per direction and zone entries. What a user relies on: exact counts, replays that
give the same alerts, a kill -9 that loses nothing and changes nothing, poison records in the
DLQ while the rest flows.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition
from test_processor_support import (
    CAMERAS,
    OBJECTS,
    all_records,
    by_camera,
    expected_counts,
    outputs_of,
    produce_inputs,
    producer,
    publish_records,
    read_all,
    registry,
    run_inline,
    scene_records,
    sensors_of,
    settings_for,
    topic_set,
)

from schemas import catalog
from schemas.records import Alert, Point, SensorConfig, SensorEvent, SensorEventKind
from schemas.serde import Serde
from stream_processors.runtime import ProcessorTopics
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

__all__ = ["registry"]  # the fixture


# -- tests -----------------------------------------------------------------------------------


def test_exact_counts_and_identical_replays(registry: Any) -> None:
    stack = registry
    serde = Serde.for_registry(stack.endpoints)
    inputs = topic_set(stack, f"replay-{uuid.uuid4().hex[:8]}")
    total = produce_inputs(stack, serde, inputs)
    runs = []
    # The second replay takes the input in tiny batches with frequent checkpoints: different
    # fetch and batch boundaries, same outputs.
    for name, tuning in (("a", {}), ("b", {"batch_max_messages": 7, "commit_interval_s": 0.1})):
        out = topic_set(stack, f"replay-out-{name}-{uuid.uuid4().hex[:8]}")
        group = f"g-{uuid.uuid4().hex[:8]}"
        settings = settings_for(stack, outputs_of(inputs, out), group, **tuning)
        stats = run_inline(settings, serde)
        assert stats.consumed >= total
        runs.append(
            (
                by_camera(stack, serde, out.alerts, Alert),
                by_camera(stack, serde, out.sensor_events, SensorEvent),
            )
        )
    (alerts_a, events_a), (alerts_b, events_b) = runs
    # Replays: the same alerts and sensor events, ids and values, in the same order per camera.
    assert alerts_a == alerts_b
    assert events_a == events_b
    for camera_id in CAMERAS:
        crossings, entries = expected_counts(camera_id)
        events = events_a[camera_id]
        got = Counter(e.direction for e in events if e.kind is SensorEventKind.LINE_CROSS)
        assert got == crossings, camera_id
        assert sum(crossings.values()) == OBJECTS
        enters = [e for e in events if e.kind is SensorEventKind.ZONE_ENTER]
        assert len(enters) == entries, camera_id
        assert len({e.track_id for e in enters}) == entries
        # Every alert opened was ended (frames moved time past the last group's gap).
        lifecycles = Counter(a.lifecycle.value for a in alerts_a[camera_id])
        assert lifecycles["new"] == lifecycles["end"] > 0, camera_id


def test_poison_records_go_to_the_dlq_and_the_rest_flows(registry: Any) -> None:
    stack = registry
    serde = Serde.for_registry(stack.endpoints)
    topics = topic_set(stack, f"poison-{uuid.uuid4().hex[:8]}")
    p = producer(stack)
    sensors = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    good = sensors_of("cam-1")[0]
    bad = dataclasses.replace(
        good, sensor_id="cam-1-bad", points=(Point(0.1, 0.1), Point(0.2, 0.2), Point(0.3, 0.1))
    )
    # A 12,000-point zone (~190 KB: over the record cap, refused before decoding) and an id
    # that is a path: both refused with context, neither stalls the worker.
    ring = [
        (
            0.5 + 0.4 * math.cos(2 * math.pi * i / 12_000),
            0.5 + 0.4 * math.sin(2 * math.pi * i / 12_000),
        )
        for i in range(12_000)
    ]
    huge = dataclasses.replace(
        good, sensor_id="cam-1-huge", points=tuple(Point(x, y) for x, y in ring)
    )
    path = dataclasses.replace(good, sensor_id="../../etc/passwd")
    for cfg in (good, bad, huge, path):
        p.produce(topics.sensors, sensors.encode(cfg), cfg.sensor_id.encode())
    p.flush()
    records = list(scene_records("cam-1"))
    p.produce(topics.detections, b"\x00\x00\x00\xff\xffnot avro", b"cam-1")
    p.produce(topics.detections, b"garbage", b"cam-1")
    p.flush()
    publish_records(p, serde, topics, records)
    run_inline(settings_for(stack, topics, f"g-{uuid.uuid4().hex[:8]}"), serde)

    dead = read_all(stack, topics.dlq)
    headers = [{k: (v or b"").decode() for k, v in m.headers() or ()} for m in dead]
    assert sorted(h["vidsight.source.topic"] for h in headers) == sorted(
        [topics.sensors] * 3 + [topics.detections] * 2
    )
    why = {
        b"cam-1-bad": "sensor 'cam-1-bad': points:",
        b"cam-1-huge": "record: ",
        b"../../etc/passwd": "id: '../../etc/passwd' is not a valid id",
    }
    for m, h in zip(dead, headers, strict=True):
        assert list(h) == list(catalog.DLQ_HEADERS)
        assert h["vidsight.stage"].startswith("processor.")
        if h["vidsight.source.topic"] == topics.sensors:
            assert h["vidsight.error.class"] == "SensorConfigError"
            assert why.pop(m.key()) in h["vidsight.error.message"]
        else:
            assert h["vidsight.error.class"] == "SerializationError"
            assert m.value() in (b"\x00\x00\x00\xff\xffnot avro", b"garbage")
            assert int(h["vidsight.source.offset"]) >= 0
    events = by_camera(stack, serde, topics.sensor_events, SensorEvent)["cam-1"]
    crossings, _ = expected_counts("cam-1")
    got = Counter(e.direction for e in events if e.kind is SensorEventKind.LINE_CROSS)
    assert got == crossings
    assert not why


def committed_any(stack: Any, group: str, topic: str) -> bool:
    """Whether ``group`` has committed an offset past 0 on some partition of ``topic``."""
    consumer = Consumer(stack.endpoints.kafka_client_config(**{"group.id": group}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = consumer.committed([KafkaTopicPartition(topic, p) for p in partitions], 10)
        return any(o.offset > 0 for o in offsets)
    finally:
        consumer.close()


def test_kill_9_mid_stream_loses_nothing_and_changes_nothing(registry: Any) -> None:
    stack = registry
    serde = Serde.for_registry(stack.endpoints)
    inputs = topic_set(stack, f"crash-{uuid.uuid4().hex[:8]}")
    crashed = topic_set(stack, f"crash-out-{uuid.uuid4().hex[:8]}")
    group = f"g-{uuid.uuid4().hex[:8]}"
    env = {
        **stack.env(),
        "VIDSIGHT_GROUP_ID": group,
        "VIDSIGHT_SESSION_TIMEOUT_MS": "3000",
        "VIDSIGHT_COMMIT_INTERVAL_S": "0.5",
        **{
            f"VIDSIGHT_TOPICS__{f.upper()}": getattr(outputs_of(inputs, crashed), f)
            for f in ProcessorTopics.model_fields
        },
    }
    command = [sys.executable, "-m", "stream_processors.cli", "-v", "process", "run"]

    def start(idle: str | None = None) -> subprocess.Popen[str]:
        extra = [] if idle is None else ["--exit-when-idle", idle]
        return subprocess.Popen(
            command + extra, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait_assigned(proc: subprocess.Popen[str]) -> list[str]:
        lines: list[str] = []
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "assigned partitions" in line:
                # keep draining stderr so the worker never blocks on a full pipe
                threading.Thread(target=lines.extend, args=(proc.stderr,), daemon=True).start()
                return lines
            assert line or proc.poll() is None, "".join(lines)
        raise AssertionError("worker never got its partitions:\n" + "".join(lines))

    # Sensors first; then frames and detections at a pace, so the kill lands mid-stream.
    records = list(all_records())
    half = len(records) // 2
    p = producer(stack)
    sensors = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    for camera_id in CAMERAS:
        for cfg in sensors_of(camera_id):
            p.produce(inputs.sensors, sensors.encode(cfg), cfg.sensor_id.encode())
    p.flush()
    first = start()
    wait_assigned(first)
    publish_records(p, serde, inputs, records[:half], rate=1500)
    # Mid-stream: a checkpoint has committed input offsets, what came after it has not.
    wait_for(
        lambda: committed_any(stack, group, inputs.detections),
        30,
        "the worker's first checkpoint",
        retry_on=(KafkaException,),
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    assert first.returncode == -signal.SIGKILL
    second = start(idle="3")
    wait_assigned(second)
    publish_records(p, serde, inputs, records[half:], rate=1500)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    resumed = int(out.split("processed ")[1].split()[0])
    assert resumed < len(records), "the restart must resume from committed offsets"

    reference = topic_set(stack, f"crash-ref-{uuid.uuid4().hex[:8]}")
    run_inline(
        settings_for(stack, outputs_of(inputs, reference), f"g-{uuid.uuid4().hex[:8]}"), serde
    )
    got_alerts = by_camera(stack, serde, crashed.alerts, Alert)
    want_alerts = by_camera(stack, serde, reference.alerts, Alert)
    # The same set of alert ids as the uninterrupted run ...
    assert {a.alert_id for alerts in got_alerts.values() for a in alerts} == {
        a.alert_id for alerts in want_alerts.values() for a in alerts
    }
    got_events = by_camera(stack, serde, crashed.sensor_events, SensorEvent)
    want_events = by_camera(stack, serde, reference.sensor_events, SensorEvent)
    for got, want, id_of in (
        (got_alerts, want_alerts, lambda r: (r.alert_id, r.revision)),
        (got_events, want_events, lambda r: r.event_id),
    ):
        assert set(got) == set(want) == set(CAMERAS)
        for camera_id in CAMERAS:
            copies: dict[Any, set[Any]] = defaultdict(set)
            for record in got[camera_id]:
                copies[id_of(record)].add(record)
            # ... duplicates only as identical re-emissions ...
            assert all(len(v) == 1 for v in copies.values()), camera_id
            # ... and without them exactly the uninterrupted run's outputs, in order.
            assert list(dict.fromkeys(got[camera_id])) == want[camera_id], camera_id
