"""Benchmark of the live read models on the local broker: events/s and end-to-end latency.

Needs a running local stack (``vidsight up``; only s3, kafka and schema-registry are used).
Starts a read-model worker (``python -m stream_processors.readmodels run``) with a fresh app
id reading from the end of the topics, waits until it reads every partition, then:

* throughput: produces ``--events`` SensorEvents (half occupancy changes, half tripwire
  crossings, over ``--cameras`` cameras) as fast as the producer goes and times until the
  worker's ``/metrics`` count them all handled; the raw baseline is a plain confluent-kafka
  consumer reading and decoding the same records with the same serde (no tables, no
  changelog), in the same run;
* latency: on the idle pipeline, ``--samples`` single occupancy events, each timed from just
  before ``produce()`` until ``GET /state/occupancy/{camera}`` shows it (polled every 2 ms),
  once per ``--fetch-waits`` value (each gets a worker of its own).

    python bench/bench_readmodels.py [--data-dir .vidsight] [--events 20000] [--cameras 100]
        [--samples 40] [--fetch-waits 50,1500] [--batch-bytes 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, Producer, TopicPartition

from schemas import catalog
from schemas.records import CrossingDirection, SensorEvent, SensorEventKind, sensor_event_id
from schemas.registration import register_all
from schemas.serde import Serde
from schemas.topics import create_topics
from vidsight.settings import Endpoints, load

ROOT = Path(__file__).resolve().parents[1]
TS = 1_700_000_000_000_000
TOPIC = catalog.SENSOR_EVENTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _event(camera: str, n: int, count: int | None = None) -> SensorEvent:
    ts = TS + n * 1000
    if count is not None or n % 2 == 0:
        kind, direction, sensor = SensorEventKind.OCCUPANCY, None, "zone"
        count = n % 7 if count is None else count
    else:
        kind, sensor = SensorEventKind.LINE_CROSS, "line"
        direction = CrossingDirection.A_TO_B if n % 4 == 1 else CrossingDirection.B_TO_A
    return SensorEvent(
        event_id=sensor_event_id(camera, sensor, kind, ts, n, direction=direction),
        camera_id=camera,
        sensor_id=sensor,
        kind=kind,
        direction=direction,
        track_id=None if count is not None else n,
        label="person",
        score=0.9,
        ts=ts,
        count=count,
        frame_seq=n,
    )


def _cameras_per_partition(prefix: str) -> list[str]:
    """One camera id per partition, as the Java (murmur2) partitioner places them."""
    partitions = catalog.topic(TOPIC).partitions
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < partitions:
        camera = f"{prefix}-{n}"
        chosen.setdefault((murmur2(camera.encode()) & 0x7FFFFFFF) % partitions, camera)
        n += 1
    return list(chosen.values())


class WorkerProcess:
    """A read-model worker subprocess, logging to a file."""

    def __init__(self, endpoints: Endpoints, app_id: str, env: dict[str, str], log: Path) -> None:
        self.endpoints = endpoints
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        full_env = {
            **os.environ,
            "VIDSIGHT_DATA_DIR": str(endpoints.data_dir),
            "VIDSIGHT_APP_ID": app_id,
            "VIDSIGHT_WEB_PORT": str(self.port),
            "VIDSIGHT_LOG_LEVEL": "warning",
            "VIDSIGHT_AUTO_OFFSET_RESET": "latest",  # not what earlier runs left in the topics
            **env,
        }
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream_processors.readmodels", "run"],
                cwd=ROOT,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def producer(self) -> Producer:
        return _producer(self.endpoints)

    def handled(self) -> int:
        """Sensor-event records the worker has handled so far (any outcome)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("vidsight_readmodels_records_total{") and TOPIC in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def wait_ready(self, serde: Serde, timeout_s: float = 180) -> None:
        """Until the worker reads every partition: one marker per partition, re-sent until seen.

        The worker starts at the end of the topics (auto_offset_reset=latest), so a marker
        produced before its first fetch is skipped and simply sent again.
        """
        codec = serde.topic(TOPIC, SensorEvent)
        pending = set(_cameras_per_partition(f"bench-ready-{uuid.uuid4().hex[:6]}"))
        producer = self.producer()
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"worker not ready in {timeout_s}s; see {self.log}")
            if self.proc.poll() is not None:
                raise SystemExit(f"worker exited; see {self.log}")
            for camera in pending:
                producer.produce(
                    TOPIC, key=camera.encode(), value=codec.encode(_event(camera, 0, 1))
                )
            producer.flush(30)
            time.sleep(0.5)
            for camera in list(pending):
                try:
                    answer = httpx.get(f"{self.url}/state/occupancy/{camera}", timeout=5)
                    if answer.status_code == 200 and answer.json()["zones"]:
                        pending.discard(camera)
                except httpx.HTTPError:
                    break

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextmanager
def worker(
    endpoints: Endpoints, serde: Serde, env: dict[str, str], log_dir: Path
) -> Iterator[WorkerProcess]:
    app_id = f"rm-bench-{uuid.uuid4().hex[:8]}"
    proc = WorkerProcess(endpoints, app_id, env, log_dir / f"{app_id}.log")
    try:
        proc.wait_ready(serde)
        yield proc
    finally:
        proc.stop()


def _producer(endpoints: Endpoints) -> Producer:
    return Producer(endpoints.kafka_client_config(partitioner="murmur2_random", **{"linger.ms": 5}))


def throughput(
    w: WorkerProcess, endpoints: Endpoints, serde: Serde, events: int, cameras: int
) -> tuple[float, float, dict[int, list[int]]]:
    """(events/s through the worker, events/s produced, offsets written per partition)."""
    run = uuid.uuid4().hex[:6]
    codec = serde.topic(TOPIC, SensorEvent)
    values = [
        (
            f"bench-{run}-{n % cameras}".encode(),
            codec.encode(_event(f"bench-{run}-{n % cameras}", n)),
        )
        for n in range(events)
    ]
    written: dict[int, list[int]] = {}

    def delivered(err: object, msg: object) -> None:
        if err is None:
            written.setdefault(msg.partition(), []).append(msg.offset())  # type: ignore[attr-defined]

    before = w.handled()
    producer = _producer(endpoints)
    start = time.perf_counter()
    for key, value in values:
        while True:
            try:
                producer.produce(TOPIC, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    produced_s = time.perf_counter() - start
    deadline = time.monotonic() + 600
    while w.handled() < before + events:
        if time.monotonic() > deadline:
            raise SystemExit(f"worker handled {w.handled() - before} of {events} in 600 s")
        time.sleep(0.05)
    done_s = time.perf_counter() - start
    return events / done_s, events / produced_s, written


def raw_baseline(endpoints: Endpoints, serde: Serde, written: dict[int, list[int]]) -> float:
    """Records/s of a plain confluent-kafka loop reading and decoding the same records."""
    codec = serde.topic(TOPIC, SensorEvent)
    consumer = Consumer(
        endpoints.kafka_client_config(
            **{
                "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
    )
    # Offsets from the delivery reports: the local broker's end offsets cannot be trusted.
    wanted = {p: (min(offs), max(offs)) for p, offs in written.items()}
    consumer.assign([TopicPartition(TOPIC, p, lo) for p, (lo, _) in wanted.items()])
    open_partitions = set(wanted)
    done = 0
    start = time.perf_counter()
    while open_partitions:
        for msg in consumer.consume(1000, timeout=1.0):
            partition, offset = msg.partition(), msg.offset()
            if msg.error() is not None or partition is None or offset is None:
                continue
            last = wanted[partition][1]
            if offset <= last:
                codec.decode(msg.value(), partition=partition, offset=offset)
                done += 1
            if offset >= last:
                open_partitions.discard(partition)
    elapsed = time.perf_counter() - start
    consumer.close()
    return done / elapsed


def latency(w: WorkerProcess, endpoints: Endpoints, serde: Serde, samples: int) -> list[float]:
    """Seconds from produce() until the HTTP read model shows the event, per sample."""
    codec = serde.topic(TOPIC, SensorEvent)
    camera = f"bench-lat-{uuid.uuid4().hex[:6]}"
    producer = _producer(endpoints)
    client = httpx.Client(timeout=5)
    results = []
    for n in range(samples):
        value = codec.encode(_event(camera, n, count=n + 1))
        time.sleep(0.05 + (n % 7) * 0.013)  # land at different points of the fetch cycle
        start = time.perf_counter()
        producer.produce(TOPIC, key=camera.encode(), value=value)
        producer.poll(0)
        while True:
            zone = client.get(f"{w.url}/state/occupancy/{camera}").json()["zones"].get("zone")
            if zone is not None and zone["count"] == n + 1:
                break
            producer.poll(0)
            time.sleep(0.002)
        results.append(time.perf_counter() - start)
    producer.flush(10)
    client.close()
    return results


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="local stack data dir")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--fetch-waits", default="50,1500", help="ms, comma separated")
    parser.add_argument("--batch-bytes", type=int, default=1, help="producer_max_batch_bytes")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="another worker setting, e.g. --set batch_within_ms=50 (repeatable)",
    )
    args = parser.parse_args()

    endpoints = load(Endpoints, data_dir=args.data_dir)
    create_topics(endpoints.kafka_client_config())
    register_all(endpoints)
    serde = Serde.for_registry(endpoints)
    log_dir = Path(endpoints.data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    waits = [int(w) for w in args.fetch_waits.split(",")]
    base_env = {"VIDSIGHT_PRODUCER_MAX_BATCH_BYTES": str(args.batch_bytes)}
    for item in args.set:
        field, _, value = item.partition("=")
        base_env[f"VIDSIGHT_{field.upper()}"] = value

    print(f"read models on {endpoints.kafka_bootstrap}: {args.events} sensor events over "
          f"{args.cameras} cameras, producer_max_batch_bytes={args.batch_bytes} "
          f"{' '.join(args.set)}")  # fmt: skip
    env = {**base_env, "VIDSIGHT_FETCH_MAX_WAIT_MS": str(waits[0])}
    with worker(endpoints, serde, env, log_dir) as w:
        rate, produced, written = throughput(w, endpoints, serde, args.events, args.cameras)
    raw = raw_baseline(endpoints, serde, written)
    print(f"{'figure':<44}{'value':>12}")
    print(f"{'produce rate (events/s)':<44}{produced:>12,.0f}")
    print(f"{'raw consume+decode loop (events/s)':<44}{raw:>12,.0f}")
    print(f"{'read-model worker (events/s)':<44}{rate:>12,.0f}")
    print(f"{'ratio worker / raw':<44}{rate / raw:>12.3f}")
    for wait in waits:
        env = {**base_env, "VIDSIGHT_FETCH_MAX_WAIT_MS": str(wait)}
        with worker(endpoints, serde, env, log_dir) as w:
            lat = latency(w, endpoints, serde, args.samples)
        ms = [v * 1000 for v in lat]
        print(
            f"latency produce->HTTP, fetch wait {wait} ms: p50 {statistics.median(ms):.0f} ms, "
            f"p90 {_pct(ms, 0.9):.0f} ms, p99 {_pct(ms, 0.99):.0f} ms, max {max(ms):.0f} ms "
            f"({len(ms)} samples)"
        )


if __name__ == "__main__":
    main()
