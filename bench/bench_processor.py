"""The detections path through the local broker: the runtime against a plain loop.

Throughput: Detections in -> sensor events and alerts out, from offset 0 of a filled topic.
``processor`` is the real worker (consumer group, frames alignment, pipelined checkpoints with
changelog writes and offset commits, metrics); ``plain loop`` is the baseline in the same run:
one confluent-kafka consumer assigned every partition, decode + rules + encode + produce and
nothing else. Rounds alternate between the two; the table shows medians and the ratio.

Latency: the worker runs as a process of its own (``python -m stream_processors.cli process
run``, or the plain loop via ``--serve-plain``) while detections are produced at a steady rate
(real time: 5 frames/s per camera); for every alert new/update consumed, latency = consume time
- produce time of the detection that caused it (matched by camera and event time). Both
workers are measured the same way, so the ratio separates the runtime from the broker.

Workload: synthetic scenes (producers/synthetic), one per camera, 5 analysed frames/s of event
time, 3 sensors per camera (a tripwire, a zone, a loitering zone).

    python bench/bench_processor.py [--data-dir DIR] [--cameras 200] [--seconds 50]
        [--rounds 3] [--rate 1000] [--latency-seconds 20] [--linger-ms 10]
        [--output-linger-ms 5]

Without ``--data-dir`` it starts its own broker, registry and S3 in a temp dir.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from producers.synthetic.scene import Scene, SceneObject, SceneSpec
from schemas import catalog
from schemas.catalog import TopicSpec
from schemas.records import (
    Alert,
    DetectedObject,
    Detections,
    Point,
    SensorConfig,
    SensorEvent,
    SensorKind,
    detections_event_id,
)
from schemas.registration import register_all
from schemas.serde import Serde
from schemas.topics import create_topics
from stream_processors.rules import Engine
from stream_processors.runtime import Processor, ProcessorSettings, ProcessorTopics
from stream_processors.runtime.kafka import assign_from_beginning
from vidsight.settings import Endpoints, load

T0 = 1_700_000_000_000_000
FPS = 5
PARTITIONS = 12


# -- workload --------------------------------------------------------------------------------


def sensors_of(camera: str) -> list[SensorConfig]:
    """A tripwire, a zone and a loitering zone on one camera."""

    def make(suffix: str, kind: SensorKind, pts: list[tuple[float, float]], **kw: Any) -> Any:
        return SensorConfig(
            sensor_id=f"{camera}-{suffix}",
            camera_id=camera,
            kind=kind,
            points=tuple(Point(x, y) for x, y in pts),
            group_gap_s=2.0,
            updated_ts=T0,
            **kw,
        )

    return [
        make("line", SensorKind.TRIPWIRE, [(0.5, 0.0), (0.5, 1.0)]),
        make("upper", SensorKind.ZONE, [(0.3, 0.0), (0.7, 0.0), (0.7, 0.6), (0.3, 0.6)]),
        make("loiter", SensorKind.LOITERING, [(0.0, 0.5), (0.3, 0.5), (0.3, 1.0)], seconds=4.0),
    ]


def detections(cameras: int, seconds: float) -> list[Detections]:
    """Every camera's Detections, interleaved in event-time order (as a live edge sends)."""
    per_camera: list[tuple[str, list[SceneObject]]] = []
    for c in range(cameras):
        scene = Scene(SceneSpec(seed=c))
        count = int(seconds / scene.interval) + 2
        per_camera.append((f"cam-{c:04d}", [scene.object(i) for i in range(count)]))
    out = []
    for seq in range(round(seconds * FPS)):
        t = seq / FPS
        ts = T0 + round(t * 1_000_000)
        for camera, objects in per_camera:
            found = []
            for obj in objects:
                if obj.t_enter < t < obj.t_exit:
                    box = obj.bbox_at(t)
                    if box is not None:
                        found.append(
                            DetectedObject(
                                track_id=obj.object_id, label=obj.label, score=0.9, bbox=box
                            )
                        )
            if found:
                event_id = detections_event_id(camera, ts, seq)
                out.append(
                    Detections(
                        event_id=event_id,
                        camera_id=camera,
                        frame_ts=ts,
                        seq=seq,
                        model="truth",
                        objects=tuple(found),
                    )
                )
    return out


# -- broker plumbing -------------------------------------------------------------------------


@contextmanager
def local_stack(data_dir: Path | None) -> Iterator[Endpoints]:
    """The endpoints of a running stack, or of one started for the bench."""
    if data_dir is not None:
        yield load(Endpoints, data_dir=data_dir)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from conftest import make_stack_settings

    from infra.stack import Stack

    with tempfile.TemporaryDirectory(prefix="vidsight-bench-") as tmp:
        stack = Stack(make_stack_settings(Path(tmp)), ["s3", "kafka", "schema-registry"])
        stack.up()
        try:
            yield load(Endpoints, data_dir=Path(tmp))
        finally:
            stack.down()


def make_topics(endpoints: Endpoints, run: str) -> ProcessorTopics:
    names = {f: f"bench.{run}.{f}" for f in ProcessorTopics.model_fields}
    specs = [
        TopicSpec(
            name=name,
            value_schema=None,
            partitions=1 if f == "sensors" else PARTITIONS,
            config={"cleanup.policy": "compact" if f in ("sensors", "changelog") else "delete"},
            compacted=f in ("sensors", "changelog"),
            doc="bench",
        )
        for f, name in names.items()
    ]
    create_topics(endpoints.kafka_client_config(), specs)
    return ProcessorTopics(**names)


LINGER_MS = 10.0
"""The edge's publisher linger (producers/forwarder.py); --linger-ms overrides."""


def producer(endpoints: Endpoints, linger_ms: float = LINGER_MS) -> Producer:
    """A producer of detections as the edge publishes them."""
    return Producer(
        endpoints.kafka_client_config(
            **{
                "partitioner": "murmur2_random",
                "linger.ms": linger_ms,
                "acks": "all",
                "max.in.flight.requests.per.connection": 1,
            }
        )
    )


def fill(
    endpoints: Endpoints, topics: ProcessorTopics, serde: Serde, dets: list[Detections]
) -> None:
    """Sensors, then every detection (pre-encoded), acknowledged."""
    p = producer(endpoints)
    codec = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    for camera in sorted({d.camera_id for d in dets}):
        for cfg in sensors_of(camera):
            p.produce(topics.sensors, codec.encode(cfg), cfg.sensor_id.encode())
    det = serde.topic(catalog.DETECTIONS, Detections)
    for d in dets:
        while True:
            try:
                p.produce(topics.detections, det.encode(d), d.camera_id.encode())
                break
            except BufferError:
                p.poll(0.05)
    p.flush()


# -- throughput ------------------------------------------------------------------------------


def timed(run: Any, consumed: Any, total: int) -> float:
    """Messages/s between the first and the total-th consumed message (polled from outside)."""
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    first = last = None
    while thread.is_alive() or last is None:
        n = consumed()
        now = time.perf_counter()
        if first is None and n > 0:
            first = now
        if n >= total:
            last = now
            break
        if not thread.is_alive():
            raise RuntimeError(f"stopped after {n} of {total} messages")
        time.sleep(0.002)
    thread.join(120)
    assert first is not None
    return total / (last - first)


def processor_rate(
    endpoints: Endpoints, topics: ProcessorTopics, cameras: int, total: int
) -> float:
    """The worker, from offset 0 under a fresh group, outputs to fresh topics."""
    run = uuid.uuid4().hex[:8]
    out = make_topics(endpoints, f"out-{run}")
    settings = ProcessorSettings(
        **endpoints.model_dump(),
        group_id=f"bench-{run}",
        session_timeout_ms=3000,
        topics=topics.model_copy(
            update={f: getattr(out, f) for f in ("sensor_events", "alerts", "dlq", "changelog")}
        ),
    )
    proc = Processor(settings)
    sensors = cameras * len(sensors_of("x"))  # the worker counts the sensor records it read

    def consumed() -> int:
        return max(0, proc.stats.consumed - sensors)

    return timed(lambda: proc.run(exit_when_idle_s=2.0), consumed, total)


def output_linger_ms() -> float:
    """The workers' output linger: the processor's setting (env VIDSIGHT_LINGER_MS), which the
    plain loop uses too, so both batch their outputs alike."""
    default = ProcessorSettings.model_fields["linger_ms"].default
    return float(os.environ.get("VIDSIGHT_LINGER_MS", default))


class PlainLoop:
    """The baseline: one consumer assigned every partition; decode + rules + encode + produce,
    nothing else (no group, no state, no commits, no metrics)."""

    def __init__(self, endpoints: Endpoints, detections: str, out: ProcessorTopics, cameras: int):
        serde = Serde.for_registry(endpoints)
        self.det = serde.topic(catalog.DETECTIONS, Detections)
        self.events = serde.topic(catalog.SENSOR_EVENTS, SensorEvent)
        self.alerts = serde.topic(catalog.ALERTS, Alert)
        self.out = out
        self.engine = Engine()
        for c in range(cameras):
            for cfg in sensors_of(f"cam-{c:04d}"):
                self.engine.on_sensor(cfg.sensor_id, cfg)
        self.consumer = Consumer(
            endpoints.kafka_client_config(
                **{"group.id": "plain", "enable.auto.commit": False, "fetch.wait.max.ms": 10}
            )
        )
        assign_from_beginning(self.consumer, [detections])
        self.producer = Producer(
            endpoints.kafka_client_config(
                **{"linger.ms": output_linger_ms(), "partitioner": "murmur2_random", "acks": "all"}
            )
        )
        self.count = 0

    def run(self, until: Any) -> None:
        """Process until ``until()`` is true."""
        engine, det, producer = self.engine, self.det, self.producer
        while not until():
            for msg in self.consumer.consume(1000, 0.01):
                for o in engine.on_detections(det.decode(msg.value())):
                    if isinstance(o, SensorEvent):
                        value, topic = self.events.encode(o), self.out.sensor_events
                    else:
                        value, topic = self.alerts.encode(o), self.out.alerts
                    while True:
                        try:
                            producer.produce(topic, value, o.camera_id.encode())
                            break
                        except BufferError:
                            producer.poll(0.05)
                self.count += 1
            producer.poll(0)
        producer.flush()
        self.consumer.close()


def plain_rate(endpoints: Endpoints, topics: ProcessorTopics, cameras: int, total: int) -> float:
    """The baseline's rate over the same input."""
    out = make_topics(endpoints, f"plain-{uuid.uuid4().hex[:8]}")
    loop = PlainLoop(endpoints, topics.detections, out, cameras)
    return timed(lambda: loop.run(lambda: loop.count >= total), lambda: loop.count, total)


def serve_plain(data_dir: Path, run: str, cameras: int) -> None:
    """``--serve-plain``: the baseline as a process of its own, until SIGTERM."""
    endpoints = load(Endpoints, data_dir=data_dir)
    topics = ProcessorTopics(**{f: f"bench.{run}.{f}" for f in ProcessorTopics.model_fields})
    loop = PlainLoop(endpoints, topics.detections, topics, cameras)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    loop.consumer.consume(1, 0.5)  # the assignment is in place
    print("plain loop ready", file=sys.stderr, flush=True)
    loop.run(stop.is_set)


# -- latency ---------------------------------------------------------------------------------


def latency(
    endpoints: Endpoints, cameras: int, rate: float, seconds: float, worker: str, linger_ms: float
) -> dict[str, list[float]]:
    """Latencies (ms) of alerts (new/update) while detections flow at ``rate`` into a worker
    process: ``processor`` (vidsight's) or ``plain`` (the baseline loop)."""
    serde = Serde.for_registry(endpoints)
    run = f"lat-{worker}-{uuid.uuid4().hex[:8]}"
    topics = make_topics(endpoints, run)
    dets = detections(cameras, seconds)
    p = producer(endpoints, linger_ms)
    codec = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    for c in range(cameras):
        for cfg in sensors_of(f"cam-{c:04d}"):
            p.produce(topics.sensors, codec.encode(cfg), cfg.sensor_id.encode())
    p.flush()
    if worker == "processor":
        command = [sys.executable, "-m", "stream_processors.cli", "-v", "process", "run"]
        ready = "assigned partitions"
    else:
        command = [sys.executable, __file__, "--serve-plain", run, "--cameras", str(cameras)]
        ready = "plain loop ready"
    env = {
        **os.environ,
        "VIDSIGHT_DATA_DIR": str(endpoints.data_dir),
        "VIDSIGHT_GROUP_ID": f"bench-{run}",
        "VIDSIGHT_SESSION_TIMEOUT_MS": "3000",
        **{
            f"VIDSIGHT_TOPICS__{f.upper()}": getattr(topics, f)
            for f in ProcessorTopics.model_fields
        },
    }
    proc = subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if ready in line:
            break
    threading.Thread(target=proc.stderr.read, daemon=True).start()

    received: list[tuple[float, str, int]] = []  # consume time, camera, event time
    stop = threading.Event()
    reader = Consumer(
        endpoints.kafka_client_config(
            **{"group.id": "lat", "enable.auto.commit": False, "fetch.wait.max.ms": 10}
        )
    )
    assign_from_beginning(reader, [topics.alerts])
    alerts = serde.topic(catalog.ALERTS, Alert)

    def read() -> None:
        while not stop.is_set():
            for msg in reader.consume(1000, 0.01):
                now = time.perf_counter()
                a = alerts.decode(msg.value())
                if a.lifecycle.value != "end":  # an end comes from time passing, not a detection
                    received.append((now, a.camera_id, a.updated_ts))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(1.0)
    det = serde.topic(catalog.DETECTIONS, Detections)
    encoded = [(d.camera_id, d.frame_ts, det.encode(d)) for d in dets]
    sent: dict[tuple[str, int], float] = {}
    start = time.perf_counter()
    for i, (camera, ts, value) in enumerate(encoded):
        due = start + i / rate
        while (now := time.perf_counter()) < due:
            time.sleep(min(due - now, 0.001))
        sent[(camera, ts)] = time.perf_counter()
        p.produce(topics.detections, value, camera.encode())
        p.poll(0)
    p.flush()
    time.sleep(5.0)
    stop.set()
    thread.join(5)
    reader.close()
    proc.terminate()
    proc.wait(30)
    return {"alert": [(now - sent[(c, ts)]) * 1000 for now, c, ts in received if (c, ts) in sent]}


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=None, help="data dir of a running stack")
    parser.add_argument("--cameras", type=int, default=200, help="throughput: cameras")
    parser.add_argument("--seconds", type=float, default=50.0, help="throughput: event time")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measurement")
    parser.add_argument("--rate", type=float, default=1000.0, help="latency: messages/s")
    parser.add_argument(
        "--latency-seconds", type=float, default=20.0, help="latency: how long (0: skip)"
    )
    parser.add_argument("--linger-ms", type=float, default=LINGER_MS, help="input producer linger")
    parser.add_argument(
        "--output-linger-ms", type=float, default=None, help="workers' output producer linger"
    )
    parser.add_argument("--serve-plain", metavar="RUN", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.output_linger_ms is not None:
        os.environ["VIDSIGHT_LINGER_MS"] = str(args.output_linger_ms)  # both workers read it
    if args.serve_plain:
        serve_plain(Path(os.environ["VIDSIGHT_DATA_DIR"]), args.serve_plain, args.cameras)
        return
    with local_stack(args.data_dir) as endpoints:
        register_all(endpoints)
        serde = Serde.for_registry(endpoints)
        dets = detections(args.cameras, args.seconds)
        topics = make_topics(endpoints, f"in-{uuid.uuid4().hex[:8]}")
        fill(endpoints, topics, serde, dets)
        total = len(dets)
        rates: dict[str, list[float]] = {"processor": [], "plain": []}
        for _ in range(args.rounds):
            rates["plain"].append(plain_rate(endpoints, topics, args.cameras, total))
            rates["processor"].append(processor_rate(endpoints, topics, args.cameras, total))
        lat: dict[str, list[float]] = {"processor": [], "plain": []}
        if args.latency_seconds > 0:
            cameras = max(1, round(args.rate / FPS))  # real time: 5 frames/s per camera
            for _ in range(args.rounds):
                for worker in ("plain", "processor"):
                    got = latency(
                        endpoints, cameras, args.rate, args.latency_seconds, worker, args.linger_ms
                    )
                    lat[worker].extend(got["alert"])
    report(args, total, rates, lat)


def _quantiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[98]


def report(
    args: Any, total: int, rates: dict[str, list[float]], lat: dict[str, list[float]]
) -> None:
    """The table: processor | plain loop | ratio."""
    p, b = statistics.median(rates["processor"]), statistics.median(rates["plain"])
    print(
        f"\nDetections path on the local broker: {total:,} Detections of {args.cameras} cameras "
        f"x 3 sensors, {PARTITIONS} partitions; medians of {args.rounds} rounds"
    )
    print(f"{'measure':<46} {'processor':>11} {'plain loop':>11} {'ratio':>6}")
    print(f"{'throughput, Detections/s':<46} {p:>11,.0f} {b:>11,.0f} {p / b:>6.2f}")
    if lat["processor"] and lat["plain"]:
        (p50, p99), (b50, b99) = _quantiles(lat["processor"]), _quantiles(lat["plain"])
        what = f"latency at {args.rate:,.0f}/s, ms"
        print(f"{what + ' p50':<46} {p50:>11,.0f} {b50:>11,.0f} {p50 / b50:>6.2f}")
        print(f"{what + ' p99':<46} {p99:>11,.0f} {b99:>11,.0f} {p99 / b99:>6.2f}")
        print(
            f"  latency: detection produced -> alert (new/update) consumed, worker in its own "
            f"process; {len(lat['processor'])} / {len(lat['plain'])} alerts; linger of the "
            f"detections producer {args.linger_ms:g} ms, of the workers {output_linger_ms():g} ms"
        )
    for name, values in rates.items():
        print(f"  {name} rounds, Detections/s: {', '.join(f'{v:,.0f}' for v in values)}")


if __name__ == "__main__":
    main()
