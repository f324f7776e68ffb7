"""The live read models on the real local stack: workers run as ``python -m
stream_processors.readmodels run`` subprocesses, records go in through the serde, and the HTTP
endpoints must show the expected state within a bounded wait. A second worker joins to show
table routing: both workers then answer for every camera, and the tables it took over were
recovered from the changelogs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Producer

from schemas import catalog
from schemas.records import (
    Alert,
    AlertLifecycle,
    AvroRecord,
    CrossingDirection,
    Feedback,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Severity,
    Verdict,
    alert_id,
    feedback_id,
    sensor_event_id,
)
from schemas.registration import register_all
from schemas.serde import Serde
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

TS = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
DAY = "2023-11-14"
HOUR_US = 3_600_000_000
CAMERAS = 7  # on 7 distinct partitions of 12: two workers cannot hold them all alone
PARTITIONS = 12
WAIT_S = 90.0
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """One read-model worker subprocess with its log file."""

    def __init__(self, stack: Any, app_id: str, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {
            **stack.env(),
            "VIDSIGHT_APP_ID": app_id,
            "VIDSIGHT_WEB_PORT": str(self.port),
            # Start at the end of the topics: other tests' records are not this test's business,
            # and a fresh app id would otherwise replay all of them first.
            "VIDSIGHT_AUTO_OFFSET_RESET": "latest",
        }
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream_processors.readmodels", "run"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str) -> Any:
        response = httpx.get(self.url + path, timeout=5.0)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def wait_answer(worker: Worker, path: str, check: Callable[[Any], bool]) -> None:
    """Poll ``path`` until ``check(json)`` holds; fail with the last answer and the log."""
    last: list[Any] = [None]

    def matched() -> bool:
        if worker.proc.poll() is not None:
            pytest.fail(f"worker exited with {worker.proc.returncode}:\n{worker.log_tail()}")
        try:
            last[0] = worker.get(path)
        except httpx.HTTPError as exc:  # not up yet, or rebalancing (503)
            last[0] = repr(exc)
            return False
        return check(last[0])

    wait_for(
        matched,
        WAIT_S,
        f"{worker.url}{path} to match",
        detail=lambda: f"last answer {last[0]!r}\n{worker.log_tail()}",
    )


@pytest.fixture(scope="module")
def stack_ready(catalog_topics: Any) -> Any:
    register_all(catalog_topics.endpoints)
    return catalog_topics


@pytest.fixture
def workers(stack_ready: Any, tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    app_id = f"rm-test-{uuid.uuid4().hex[:8]}"
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(stack_ready, app_id, tmp_path / f"worker{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def sensor_event(
    camera: str,
    sensor: str,
    kind: SensorEventKind,
    ts: int,
    *,
    count: int | None = None,
    direction: CrossingDirection | None = None,
    track: int | None = None,
) -> SensorEvent:
    return SensorEvent(
        event_id=sensor_event_id(camera, sensor, kind, ts, track, direction=direction),
        camera_id=camera,
        sensor_id=sensor,
        kind=kind,
        direction=direction,
        track_id=track,
        label="person",
        score=0.9,
        ts=ts,
        count=count,
        frame_seq=ts // 200_000,
    )


def alert(camera: str, start: int, lifecycle: AlertLifecycle, revision: int) -> Alert:
    return Alert(
        alert_id=alert_id(camera, "line", start),
        camera_id=camera,
        sensor_id="line",
        kind=SensorEventKind.LINE_CROSS,
        rule=SensorKind.TRIPWIRE,
        lifecycle=lifecycle,
        revision=revision,
        severity=Severity.HIGH,
        label="person",
        top_score=0.8 + revision / 100,
        start_ts=start,
        end_ts=start + 10_000_000 if lifecycle == AlertLifecycle.END else None,
        updated_ts=start + revision,
        event_count=revision + 1,
    )


def camera_records(camera: str, n: int) -> list[tuple[str, AvroRecord]]:
    """Camera number ``n``'s story; its expected state is in ``expected``."""
    occ = SensorEventKind.OCCUPANCY
    cross = SensorEventKind.LINE_CROSS
    a_to_b, b_to_a = CrossingDirection.A_TO_B, CrossingDirection.B_TO_A
    events = [
        sensor_event(camera, "yard", occ, TS, count=1),
        sensor_event(camera, "yard", SensorEventKind.ZONE_ENTER, TS + 1, track=1),
        sensor_event(camera, "yard", occ, TS + 2, count=n + 2),
        sensor_event(camera, "line", cross, TS + 3, direction=a_to_b, track=1),
        sensor_event(camera, "line", cross, TS + 4, direction=a_to_b, track=2),
        sensor_event(camera, "line", cross, TS + HOUR_US, direction=b_to_a, track=3),
    ]
    first, second = TS, TS + 5_000_000
    alerts = [
        alert(camera, first, AlertLifecycle.NEW, 0),
        alert(camera, second, AlertLifecycle.NEW, 0),
        alert(camera, first, AlertLifecycle.UPDATE, 1),
        alert(camera, second, AlertLifecycle.UPDATE, 1),
        alert(camera, first, AlertLifecycle.END, 2),
    ]
    verdicts = [Verdict.FALSE_POSITIVE, Verdict.FALSE_POSITIVE, Verdict.TRUE_POSITIVE]
    feedback = [
        Feedback(
            feedback_id=feedback_id(alert_id(camera, "line", first), f"op{i}", TS + i),
            alert_id=alert_id(camera, "line", first),
            camera_id=camera,
            sensor_id="line",
            verdict=verdict,
            operator=f"op{i}",
            ts=TS + i,
        )
        for i, verdict in enumerate(verdicts)
    ]
    return (
        [(catalog.SENSOR_EVENTS, e) for e in events]
        + [(catalog.ALERTS, a) for a in alerts]
        + [(catalog.FEEDBACK, f) for f in feedback]
    )


def produce(stack: Any, records: list[tuple[str, AvroRecord]], garbage: bool = False) -> None:
    serde = Serde.for_registry(stack.endpoints)
    producer = Producer(
        {"bootstrap.servers": stack.kafka_bootstrap, "partitioner": "murmur2_random"}
    )
    if garbage:  # not Avro at all: must go to the DLQ without stopping the worker
        producer.produce(catalog.SENSOR_EVENTS, key=b"garbage-cam", value=b"not avro")
    for topic, record in records:
        key = record.to_avro()["camera_id"].encode()
        producer.produce(topic, key=key, value=serde.encode(topic, record))
    assert producer.flush(30) == 0


def expected_ok(n: int) -> dict[str, Callable[[Any], bool]]:
    """Checks per endpoint path suffix of camera number ``n``."""
    return {
        "occupancy": lambda j: j["zones"].get("yard", {}).get("count") == n + 2,
        "crossings": lambda j: (
            (j["a_to_b"], j["b_to_a"]) == (2, 1)
            and j["hourly"]["a_to_b"][22] == 2
            and j["hourly"]["b_to_a"][23] == 1
        ),
        "alerts": lambda j: j["count"] == 1 and j["alerts"][0]["revision"] == 1,
        "feedback": lambda j: (
            j["sensors"].get("line", {}).get("false_positive") == 2 and j["true_positive"] == 1
        ),
    }


def paths(camera: str) -> dict[str, str]:
    return {
        "occupancy": f"/state/occupancy/{camera}",
        "crossings": f"/state/crossings/{camera}/line?day={DAY}",
        "alerts": f"/state/alerts/open/{camera}",
        "feedback": f"/state/feedback/{camera}",
    }


def camera_ids(prefix: str, count: int) -> list[str]:
    """Camera ids unique to this run, each on its own partition (Java/murmur2 partitioning)."""
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < count:
        camera = f"{prefix}-{n}"
        chosen.setdefault((murmur2(camera.encode()) & 0x7FFFFFFF) % PARTITIONS, camera)
        n += 1
    return list(chosen.values())


def wait_reading(stack: Any, worker: Worker, run: str) -> None:
    """Until the worker reads every partition: a marker per partition, re-sent until seen.

    With auto_offset_reset=latest a record produced before the worker's first fetch is
    skipped, so a marker that never shows up is simply sent again.
    """
    pending = set(camera_ids(f"rm-{run}-mark", PARTITIONS))
    deadline = time.monotonic() + WAIT_S
    while pending and time.monotonic() < deadline:
        produce(stack, [(catalog.SENSOR_EVENTS, marker(c)) for c in sorted(pending)])
        time.sleep(1.0)
        for camera in list(pending):
            try:
                if worker.get(f"/state/occupancy/{camera}")["zones"]:
                    pending.discard(camera)
            except httpx.HTTPError:
                pass
    if pending:
        pytest.fail(f"worker never read {sorted(pending)}\n{worker.log_tail()}")


def marker(camera: str) -> SensorEvent:
    return sensor_event(camera, "yard", SensorEventKind.OCCUPANCY, TS, count=1)


def dead_letters(worker: Worker) -> float:
    for line in httpx.get(f"{worker.url}/metrics", timeout=5).text.splitlines():
        if (
            line.startswith("vidsight_readmodels_records_total{")
            and "dead_lettered" in line
            and catalog.SENSOR_EVENTS in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def assert_all_cameras(worker: Worker, cameras: list[str]) -> None:
    for n, camera in enumerate(cameras):
        checks = expected_ok(n)
        for name, path in paths(camera).items():
            wait_answer(worker, path, checks[name])


def test_read_models_answer_over_http_and_route_between_workers(
    stack_ready: Any, workers: Callable[[], Worker]
) -> None:
    run = uuid.uuid4().hex[:6]
    cameras = camera_ids(f"rm-{run}", CAMERAS)
    first = workers()
    wait_reading(stack_ready, first, run)
    records = [r for n, cam in enumerate(cameras) for r in camera_records(cam, n)]
    produce(stack_ready, records, garbage=True)
    assert_all_cameras(first, cameras)

    day_view = first.get(f"/state/crossings/{cameras[0]}?day={DAY}")
    assert day_view["sensors"]["line"]["total"] == 3
    assert day_view["days"] == [DAY]
    other_day = first.get(f"/state/crossings/{cameras[0]}/line?day=2023-11-13")
    assert other_day["total"] == 0
    bad = httpx.get(f"{first.url}/state/crossings/{cameras[0]}?day=14.11.2023", timeout=5)
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["error"]
    assert dead_letters(first) >= 1  # the garbage record, and the worker went on

    # A second worker takes over half the partitions (recovering their tables from the
    # changelogs); each worker then answers for every camera, forwarding what it does not hold.
    second = workers()

    def split(j: Any) -> bool:
        return len(j) == 2

    wait_answer(second, "/router/", split)
    wait_answer(first, "/router/", split)
    assert set(first.get("/router/")) == {first.url, second.url}
    owners = {first.get(f"/router/occupancy/{camera}/") for camera in cameras}
    assert owners == {first.url, second.url}
    for worker in (first, second):
        assert_all_cameras(worker, cameras)
