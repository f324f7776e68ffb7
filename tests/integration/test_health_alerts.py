"""Edge health on the real local stack (issue 17 part 2): heartbeats on vidsight.health, the
processor's video_loss and node_offline alerts, camera_status and camera_health in the stores.

- a camera whose source stops (an HTTP snapshot server that starts answering 503) raises a
  video_loss alert within the configured time, ended when the frames return;
- an edge node killed with SIGKILL raises node_offline (and video_loss for its camera);
- the PostgreSQL sink keeps the latest heartbeat per camera/node, ClickHouse every one.

Each test has its own camera and node ids and its own alerts topic; the health topic is the
catalog's (the edge always writes there), so queries are scoped to those ids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from confluent_kafka import Consumer, TopicPartition
from test_processor_support import settings_for, topic_set
from test_sink_env import isolated

from producers.config import Camera
from producers.imaging import encode_jpeg
from producers.runner import EdgeRunner
from producers.settings import EdgeSettings
from schemas import catalog
from schemas.records import Alert, AlertLifecycle, SensorEventKind, node_key
from schemas.registration import register_all
from schemas.serde import Serde
from sinks.runner import RunOptions
from sinks.service import run_sinks
from stream_processors.runtime import Processor, ProcessorTopics

pytestmark = pytest.mark.integration

VIDEO_LOSS_S = 3.0
NODE_OFFLINE_S = 3.0
HEARTBEAT_S = 0.5
SLACK_S = 8.0
"""Heartbeat interval, the local broker's bursty delivery (seconds under load) and the
processor's poll: how much later than the timeout an alert may be seen by a reader."""


class SnapshotServer:
    """A camera's JPEG snapshot URL that can be made to fail (503) and recover."""

    def __init__(self) -> None:
        image = np.zeros((180, 320, 3), np.uint8)
        image[60:120, 100:220] = 200
        body = encode_jpeg(image)
        self.up = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not server.up:
                    self.send_error(503, "camera down")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/snapshot.jpg"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class AlertReader:
    """Reads an alerts topic from the beginning in a thread, keeping when each alert came."""

    def __init__(self, stack: Any, topic: str) -> None:
        self.serde = Serde.for_registry(stack.endpoints)
        self._codec = self.serde.topic(catalog.ALERTS, Alert)
        self._consumer = Consumer(
            stack.endpoints.kafka_client_config(
                **{
                    "group.id": f"health-test-{uuid.uuid4().hex}",
                    "enable.auto.commit": False,
                    "fetch.wait.max.ms": 50,
                }
            )
        )
        self._consumer.assign(
            [TopicPartition(topic, p, 0) for p in range(catalog.DEFAULT_PARTITIONS)]
        )
        self.seen: list[tuple[float, Alert]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.1)
            if msg is None or msg.error() is not None:
                continue
            alert = self._codec.decode(msg.value())
            with self._lock:
                self.seen.append((time.time(), alert))

    def of(self, camera_id: str) -> list[tuple[float, Alert]]:
        with self._lock:
            return [(t, a) for t, a in self.seen if a.camera_id == camera_id]

    def wait(
        self, camera_id: str, pred: Callable[[list[Alert]], bool], timeout_s: float
    ) -> list[tuple[float, Alert]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.of(camera_id)
            if pred([a for _, a in got]):
                return got
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting on {camera_id}: {self.of(camera_id)}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


@pytest.fixture
def processor(catalog_topics: Any) -> Iterator[tuple[Processor, ProcessorTopics]]:
    """A processor reading the catalog's health topic, writing alerts to a topic of its own."""
    register_all(catalog_topics.endpoints)
    run = uuid.uuid4().hex[:8]
    topics = topic_set(catalog_topics, f"health-{run}").model_copy(
        update={"health": catalog.HEALTH}
    )
    settings = settings_for(
        catalog_topics,
        topics,
        f"health-{run}",
        video_loss_s=VIDEO_LOSS_S,
        node_offline_s=NODE_OFFLINE_S,
    )
    worker = Processor(settings)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker, topics
    worker.stop.set()
    thread.join(30)


def edge_settings(stack: Any, tmp: Path, node: str) -> EdgeSettings:
    values = {
        **stack.endpoints.model_dump(),
        "data_dir": tmp,
        "spool_dir": tmp / "spool",
        "node_id": node,
        "site": "it",
        "heartbeat_interval_s": HEARTBEAT_S,
        "evidence": False,
        "reconnect_initial_s": 0.2,
        "reconnect_max_s": 0.5,
        "drain_timeout_s": 10,
    }
    return EdgeSettings(**values)


def test_a_camera_whose_source_stops_raises_video_loss_ended_when_frames_return(
    catalog_topics: Any, processor: tuple[Processor, ProcessorTopics], tmp_path: Path
) -> None:
    _, topics = processor
    run = uuid.uuid4().hex[:6]
    cam, node = f"snap-{run}", f"edge-{run}"
    server = SnapshotServer()
    alerts = AlertReader(catalog_topics, topics.alerts)
    camera = Camera(cam, cam, server.url, 4.0, "motion", MappingProxyType({}))
    runner = EdgeRunner(edge_settings(catalog_topics, tmp_path, node), [camera])
    stop = threading.Event()
    edge = threading.Thread(target=lambda: runner.run(stop=stop), daemon=True)
    edge.start()
    try:
        time.sleep(VIDEO_LOSS_S + 4)  # streaming well past the timeout: nothing is raised
        assert alerts.of(cam) == []
        server.up = False
        down = time.time()
        got = alerts.wait(cam, lambda a: len(a) >= 1, VIDEO_LOSS_S + SLACK_S + 10)
        seen_at, raised = got[0]
        assert raised.lifecycle is AlertLifecycle.NEW
        assert (raised.kind, raised.sensor_id) == (SensorEventKind.VIDEO_LOSS, "video_loss")
        # The loss starts at the last frame, just before the source stopped answering, and is
        # established the configured time after it.
        assert abs(raised.start_ts / 1e6 - down) < 1.5, (raised.start_ts / 1e6, down)
        assert raised.updated_ts - raised.start_ts == round(VIDEO_LOSS_S * 1e6)
        assert seen_at - down <= VIDEO_LOSS_S + SLACK_S
        time.sleep(2)
        assert [a.lifecycle for _, a in alerts.of(cam)] == [AlertLifecycle.NEW]  # no repeats
        server.up = True
        back = time.time()
        got = alerts.wait(cam, lambda a: len(a) >= 2, SLACK_S + 10)
        ended = got[1][1]
        assert (ended.lifecycle, ended.alert_id, ended.revision) == (
            AlertLifecycle.END,
            raised.alert_id,
            1,
        )
        assert ended.end_ts is not None and ended.end_ts / 1e6 >= back - 0.5
    finally:
        stop.set()
        edge.join(60)
        server.close()
        alerts.close()
    # A clean stop: the camera and the node said 'stopped', so nothing more is raised.
    time.sleep(NODE_OFFLINE_S + 3)
    assert [a.lifecycle for _, a in alerts.of(cam)] == [AlertLifecycle.NEW, AlertLifecycle.END]


def test_a_killed_edge_node_raises_node_offline(
    catalog_topics: Any, processor: tuple[Processor, ProcessorTopics], tmp_path: Path
) -> None:
    _, topics = processor
    run = uuid.uuid4().hex[:6]
    cam, node = f"synth-{run}", f"edge-{run}"
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(
        f"cameras:\n  - {{id: {cam}, source: 'synthetic:crossing', fps: 2}}\n", encoding="utf-8"
    )
    env = {
        **catalog_topics.env(),
        "VIDSIGHT_EDGE_SPOOL_DIR": str(tmp_path / "spool"),
        "VIDSIGHT_EDGE_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S),
        "VIDSIGHT_EDGE_EVIDENCE": "false",
    }
    alerts = AlertReader(catalog_topics, topics.alerts)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidsight", "edge", "run", "-c", str(cameras), "--node", node],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    key = node_key(node)
    try:
        time.sleep(NODE_OFFLINE_S + 6)  # running (start-up included) past the timeout
        assert proc.poll() is None
        assert alerts.of(key) == [] and alerts.of(cam) == []
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.time()
        proc.wait(10)
        got = alerts.wait(key, lambda a: len(a) >= 1, NODE_OFFLINE_S + SLACK_S + 10)
        seen_at, offline = got[0]
        assert offline.lifecycle is AlertLifecycle.NEW
        assert (offline.kind, offline.sensor_id, offline.label) == (
            SensorEventKind.NODE_OFFLINE,
            "node_offline",
            "node",
        )
        assert offline.start_ts / 1e6 <= killed  # its last heartbeat, before the kill
        assert seen_at - killed <= NODE_OFFLINE_S + SLACK_S
        # Its camera sends no frame either.
        lost = alerts.wait(cam, lambda a: len(a) >= 1, SLACK_S)
        assert lost[0][1].kind is SensorEventKind.VIDEO_LOSS
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        alerts.close()


def test_sinks_project_camera_status_and_camera_health(catalog_topics: Any, tmp_path: Path) -> None:
    register_all(catalog_topics.endpoints)
    run = uuid.uuid4().hex[:6]
    cam, node = f"st-{run}", f"edge-st-{run}"
    server = SnapshotServer()
    try:
        snap = Camera(cam, cam, server.url, 5.0, "motion", MappingProxyType({}))
        runner = EdgeRunner(edge_settings(catalog_topics, tmp_path, node), [snap])
        report = runner.run(duration_s=3.0)
    finally:
        server.close()
    assert report.drained and report.heartbeats >= 8
    p = isolated(catalog_topics, f"h{run}")
    result = run_sinks(
        ["postgres", "clickhouse"], p.settings, options=RunOptions(exit_when_idle_s=3)
    )
    assert result.errors == {}
    with p.pg() as conn:
        rows = conn.execute(
            "SELECT key, node_id, site, camera_id, state, configured_fps, frames_decoded, "
            "last_frame_ts IS NOT NULL FROM camera_status WHERE node_id = %s ORDER BY key",
            (node,),
        ).fetchall()
    assert [r[0] for r in rows] == [f"node:{node}", cam]
    node_row, camera_row = rows
    # The last heartbeat of a clean stop: stopped, with everything the camera decoded.
    assert camera_row[1:6] == (node, "it", cam, "stopped", 5.0)
    assert camera_row[6] > 0 and camera_row[7]
    assert node_row[3:5] == (None, "stopped")
    history = p.ch(
        "SELECT key, count(), countIf(state = 'streaming'), max(frames_decoded) "
        f"FROM camera_health FINAL WHERE node_id = '{node}' GROUP BY key ORDER BY key"
    )
    assert [h[0] for h in history] == [f"node:{node}", cam]
    for key, beats, streaming, frames in history:
        assert beats >= 4, key
        assert streaming >= 2, key  # streaming before the stop
        assert frames == camera_row[6], key  # the node sums its one camera
    # `vidsight edge status` prints the node and its camera from camera_status.
    out = subprocess.run(
        [sys.executable, "-m", "vidsight", "edge", "status", "--json"],
        env=p.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if f'"{node}"' in line]
    assert [(x["camera_id"], x["state"]) for x in lines] == [(None, "stopped"), (cam, "stopped")]
    assert "/5 (decoded" in lines[1]["fps"] and lines[1]["last_frame_s"] is not None
