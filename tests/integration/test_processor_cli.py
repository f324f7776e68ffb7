"""The stream processors' commands against the real broker and registry, as users run them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from schemas import catalog
from schemas.catalog import TopicSpec
from schemas.records import (
    Alert,
    AlertLifecycle,
    SensorConfig,
    SensorEventKind,
    SensorKind,
    Severity,
    alert_id,
)
from schemas.registration import register_all
from schemas.serde import Serde
from schemas.topics import create_topics
from stream_processors.runtime.kafka import assign_from_beginning, end_offsets, read_to_end
from stream_processors.tail import iso_utc

pytestmark = pytest.mark.integration

SITE = """\
cameras:
  - {id: gate-1, name: Main gate, source: "synthetic:crossing", fps: 5, detector: {kind: motion}}
  - {id: gate-2, name: Back gate, source: "synthetic:crossing", fps: 5, detector: {kind: motion}}
sensors:
  - id: gate-1-line
    camera: gate-1
    kind: tripwire
    points: [[0.5, 0.0], [0.5, 1.0]]
  - id: gate-1-yard
    camera: gate-1
    kind: zone
    points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
    timezone: Europe/Paris
  - id: gate-2-line
    camera: gate-2
    kind: tripwire
    points: [[0.2, 0.0], [0.2, 1.0]]
"""


@pytest.fixture(scope="module")
def registry(catalog_topics: Any) -> Any:
    register_all(catalog_topics.endpoints)
    return catalog_topics


def make_topic(stack: Any, name: str, *, partitions: int = 3, compacted: bool = False) -> str:
    spec = TopicSpec(
        name=name,
        value_schema=None,
        partitions=partitions,
        config={"cleanup.policy": "compact" if compacted else "delete"},
        compacted=compacted,
        doc="test",
    )
    create_topics(stack.endpoints.kafka_client_config(), [spec])
    return name


def vidsight(stack: Any, *args: str, env: dict[str, str], timeout: float = 60) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "stream_processors.cli", *args],
        capture_output=True,
        text=True,
        env={**stack.env(), **env},
        timeout=timeout,
        check=False,
    )


def sensor_topic_state(stack: Any, topic: str) -> dict[str, SensorConfig | None]:
    """The latest value per key (None: tombstone) of the sensors topic, and every record."""
    codec = Serde.for_registry(stack.endpoints).topic(catalog.CONFIG_SENSORS, SensorConfig)
    consumer = Consumer(
        stack.endpoints.kafka_client_config(**{"group.id": "t", "fetch.wait.max.ms": 50})
    )
    state: dict[str, SensorConfig | None] = {}

    def handle(msg: Any) -> None:
        state[msg.key().decode()] = codec.decode_or_tombstone(msg.value())

    try:
        partitions = assign_from_beginning(consumer, [topic])
        ends = end_offsets(stack.endpoints.kafka_client_config(), partitions)
        read_to_end(consumer, ends, handle, settle_s=0.5, timeout_s=30)
    finally:
        consumer.close()
    return state


def test_sensors_apply_publishes_updates_and_deletes(registry: Any, tmp_path: Path) -> None:
    stack = registry
    topic = make_topic(stack, f"t.apply-{uuid.uuid4().hex[:8]}.sensors", partitions=1)
    env = {"VIDSIGHT_TOPICS__SENSORS": topic}
    site = tmp_path / "site.yaml"
    site.write_text(SITE)

    dry = vidsight(stack, "sensors", "apply", str(site), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "create    gate-1-line" in dry.stdout and "dry run" in dry.stdout
    first = vidsight(stack, "sensors", "apply", str(site), env=env)
    assert first.returncode == 0, first.stderr
    assert "published 3 change(s)" in first.stdout
    state = sensor_topic_state(stack, topic)
    assert set(state) == {"gate-1-line", "gate-1-yard", "gate-2-line"}
    yard = state["gate-1-yard"]
    assert yard is not None and yard.kind is SensorKind.ZONE and yard.timezone == "Europe/Paris"

    # gate-1 loses its yard and its line changes; gate-2 is not in the new file at all.
    site.write_text(
        "sensors:\n"
        "  - {id: gate-1-line, camera: gate-1, kind: tripwire, points: [[0.4, 0.0], [0.4, 1.0]]}\n"
    )
    second = vidsight(stack, "sensors", "apply", str(site), env=env)
    assert second.returncode == 0, second.stderr
    assert "update    gate-1-line" in second.stdout and "delete    gate-1-yard" in second.stdout
    state = sensor_topic_state(stack, topic)
    assert state["gate-1-yard"] is None  # tombstone
    line = state["gate-1-line"]
    assert line is not None and line.points[0].x == 0.4
    assert state["gate-2-line"] is not None  # another camera: untouched

    again = vidsight(stack, "sensors", "apply", str(site), env=env)
    assert "unchanged gate-1-line" in again.stdout and "published 0 change(s)" in again.stdout


def test_sensors_apply_refuses_to_move_another_cameras_sensor_without_allow_move(
    registry: Any, tmp_path: Path
) -> None:
    stack = registry
    topic = make_topic(stack, f"t.move-{uuid.uuid4().hex[:8]}.sensors", partitions=1)
    env = {"VIDSIGHT_TOPICS__SENSORS": topic}
    site = tmp_path / "site.yaml"
    site.write_text(SITE)
    assert vidsight(stack, "sensors", "apply", str(site), env=env).returncode == 0
    # Another site's file reuses the id gate-1-line for its own camera.
    other = tmp_path / "other.yaml"
    other.write_text(
        "sensors:\n"
        "  - {id: gate-1-line, camera: other-site-cam, kind: tripwire,"
        " points: [[0.3, 0.0], [0.3, 1.0]]}\n"
    )
    for extra in (["--dry-run"], []):
        refused = vidsight(stack, "sensors", "apply", str(other), *extra, env=env)
        assert refused.returncode == 1, refused.stdout
        assert (
            "move      gate-1-line  (camera other-site-cam, from camera gate-1)" in refused.stdout
        )
        assert (
            f"error: {other}: sensor 'gate-1-line' belongs to camera 'gate-1'; this file would "
            "move it to camera 'other-site-cam'" in refused.stderr
        )
        assert "--allow-move" in refused.stderr
    line = sensor_topic_state(stack, topic)["gate-1-line"]
    assert line is not None and line.camera_id == "gate-1"  # untouched

    moved = vidsight(stack, "sensors", "apply", str(other), "--allow-move", env=env)
    assert moved.returncode == 0, moved.stderr
    assert "published 1 change(s)" in moved.stdout
    line = sensor_topic_state(stack, topic)["gate-1-line"]
    assert line is not None and line.camera_id == "other-site-cam"


def test_sensors_apply_invalid_file_exits_1_naming_file_line_sensor_field(
    registry: Any, tmp_path: Path
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(SITE.replace("kind: zone", "kind: zone\n    min_score: 2"))
    result = vidsight(registry, "sensors", "apply", str(site), env={})
    assert result.returncode == 1
    assert f"{site}:12: sensor 'gate-1-yard': min_score: must be within 0..1" in result.stderr


def alert(camera: str, lifecycle: AlertLifecycle, ts: int) -> Alert:
    return Alert(
        alert_id=alert_id(camera, f"{camera}-line", 1_700_000_000_000_000, "line_cross"),
        camera_id=camera,
        sensor_id=f"{camera}-line",
        kind=SensorEventKind.LINE_CROSS,
        rule=SensorKind.TRIPWIRE,
        lifecycle=lifecycle,
        severity=Severity.HIGH,
        label="person",
        top_score=0.87,
        start_ts=1_700_000_000_000_000,
        updated_ts=ts,
        evidence_uri=f"s3://vidsight/evidence/{camera}/x.jpg",
        event_count=1,
    )


def test_alerts_tail_prints_each_alert_state(registry: Any) -> None:
    stack = registry
    topic = make_topic(stack, f"t.tail-{uuid.uuid4().hex[:8]}.alerts")
    codec = Serde.for_registry(stack.endpoints).topic(catalog.ALERTS, Alert)
    sent = [
        alert("gate-1", AlertLifecycle.NEW, 1_700_000_000_000_000),
        alert("gate-1", AlertLifecycle.END, 1_700_000_030_000_000),
    ]
    producer = Producer(stack.endpoints.kafka_client_config())
    for a in sent:
        producer.produce(topic, codec.encode(a), a.camera_id.encode())
    producer.flush()
    env = {"VIDSIGHT_TOPICS__ALERTS": topic}
    args = ("alerts", "tail", "--from-beginning", "--exit-when-idle", "1")

    as_json = vidsight(stack, *args, "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    lines = as_json.stdout.splitlines()
    times = ("start_ts", "end_ts", "updated_ts")
    expected = [
        {k: iso_utc(v) if k in times and v is not None else v for k, v in a.to_avro().items()}
        for a in sent
    ]
    assert [json.loads(line) for line in lines] == expected
    assert json.loads(lines[0])["start_ts"] == "2023-11-14T22:13:20.000000Z"

    readable = vidsight(stack, *args, env=env)
    assert readable.returncode == 0, readable.stderr
    header, first, second = readable.stdout.splitlines()
    assert header.startswith("updated (UTC)") and "alert id" in header
    assert first.startswith(
        f"2023-11-14 22:13:20.000Z  {sent[0].alert_id}  gate-1  gate-1-line  tripwire/line_cross"
    )
    assert "person  NEW" in first and "0.87  high  s3://vidsight/evidence/gate-1/x.jpg" in first
    assert "END" in second


def test_alerts_tail_without_from_beginning_prints_no_old_alert(registry: Any) -> None:
    stack = registry
    topic = make_topic(stack, f"t.tailnew-{uuid.uuid4().hex[:8]}.alerts", partitions=1)
    codec = Serde.for_registry(stack.endpoints).topic(catalog.ALERTS, Alert)
    producer = Producer(stack.endpoints.kafka_client_config(**{"linger.ms": 50}))
    # Several records in one produce batch: the local broker then reports an end offset that
    # is too low, which made the tail print these old alerts.
    for i in range(4):
        old = alert("gate-1", AlertLifecycle.UPDATE, 1_700_000_001_000_000 + i)
        producer.produce(topic, codec.encode(old), b"gate-1")
    producer.flush()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream_processors.cli", "-v", "alerts", "tail", "--json",
         "--exit-when-idle", "6"],
        env={**stack.env(), "VIDSIGHT_TOPICS__ALERTS": topic},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        said: list[str] = []
        while not any("tailing topic=" in line for line in said):  # assigned and waiting
            line = proc.stderr.readline()
            assert line, f"the tail ended before it was assigned: {''.join(said)}"
            said.append(line)
        new = alert("gate-2", AlertLifecycle.NEW, 1_700_000_009_000_000)
        producer.produce(topic, codec.encode(new), b"gate-2")
        producer.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, "".join(said) + err
    shown = [json.loads(line)["camera_id"] for line in out.splitlines()]
    assert shown == ["gate-2"], "only the alert written after the start"


def test_process_run_serves_metrics_and_stops_cleanly_on_sigterm(registry: Any) -> None:
    stack = registry
    prefix = f"t.run-{uuid.uuid4().hex[:8]}"
    names = ("detections", "frames", "sensors", "feedback", "health", "sensor_events", "alerts",
             "dlq", "changelog")  # fmt: skip
    env = {f"VIDSIGHT_TOPICS__{n.upper()}": make_topic(stack, f"{prefix}.{n}") for n in names}
    port = free_port()
    env.update({"VIDSIGHT_GROUP_ID": prefix, "VIDSIGHT_SESSION_TIMEOUT_MS": "3000"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream_processors.cli", "process", "run", "--metrics-port",
         str(port)],
        env={**stack.env(), **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        body = ""
        deadline = time.monotonic() + 60
        while "vidsight_processor_partitions 3.0" not in body:
            assert time.monotonic() < deadline, body
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.3)
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
            except OSError:
                continue
        for name in ("vidsight_processor_messages_in", "vidsight_processor_batch_seconds",
                     "vidsight_processor_dead_letters", 'vidsight_processor_suppressed_total{'
                     'reason="min_score"}'):  # fmt: skip
            assert name in body
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "processed 0 records" in out
    finally:
        if proc.poll() is None:
            proc.kill()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
