"""Backtest throughput: detections replayed per second from archive objects vs the pure rules
core's own rate on the same records, in the same run (goal: >= 0.7x).

Workload: bench_rules' (cameras x sensors of mixed kinds, tracked objects random-walking),
plus one FrameRef per analysed frame, as the edge publishes them. Both paths feed the engine
the same records in the same order (per camera, frames after their detections):

- rules core: ``Engine.on_detections`` / ``on_frame`` over records already decoded;
- backtest: what one replay of ``run_backtest`` does: the archive reader lists and gets the
  objects (from an in-memory stand-in for S3: the network depends on the store, not on this
  code), decodes the Avro container files (sinks/s3archive.py, deflate, as the S3 sink
  writes them) and the Confluent-framed values, filters range and cameras, then the inputs
  are ordered (``by_camera``) and replayed (``replay``). Cold: a new reader, everything
  decoded. Warm: the reader of an earlier backtest (the console's), decoded records kept.

    python bench/bench_backtest.py [--cameras 50] [--sensors 10] [--objects 3] [--frames 300]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rules import messages, sensors_for

from schemas import catalog
from schemas.records import Detections, FrameRef, SensorConfig, frame_event_id
from schemas.serde import InMemorySchemaResolver, Serde
from sinks.batching import SourceMessage
from sinks.s3archive import encode, hour_of, object_key
from stream_processors.backtest.replay import Record, by_camera, replay
from stream_processors.backtest.settings import BacktestSettings
from stream_processors.backtest.source import ArchiveReader
from stream_processors.rules import Engine

BLOCK = 1000
START = 1_700_000_000_000_000
"""First frame time of bench_rules' messages."""


def frames_of(dets: list[Detections]) -> list[FrameRef]:
    """One analysed FrameRef per Detections message."""
    return [
        FrameRef(
            event_id=frame_event_id(d.camera_id, d.frame_ts, d.seq),
            camera_id=d.camera_id,
            frame_ts=d.frame_ts,
            seq=d.seq,
            width=640,
            height=360,
            motion_score=0.1,
            analysed=True,
            object_count=len(d.objects),
        )
        for d in dets
    ]


def archive(serde: Serde, topic: str, records: list[Any]) -> dict[str, bytes]:
    """The records as the S3 sink archives them: one partition, BLOCK offsets an object."""
    codec = serde.topic(topic)
    msgs = [
        SourceMessage(topic, 0, i, r.camera_id.encode(), codec.encode(r), r.frame_ts // 1000, ())
        for i, r in enumerate(records)
    ]
    out = {}
    for i in range(0, len(msgs), BLOCK):
        key = object_key("archive", topic, 0, hour=hour_of(START // 1000), block_start=i,
                         block=BLOCK)  # fmt: skip
        out[key] = encode(key, msgs[i : i + BLOCK], topic=topic, partition=0, block_start=i,
                          block=BLOCK, codec="deflate")  # fmt: skip
    return out


def core(configs: list[SensorConfig], ordered: dict[str, list[Record]]) -> float:
    """CPU seconds of the engine alone over the ordered records."""
    engine = Engine()
    for cfg in configs:
        engine.on_sensor(cfg.sensor_id, cfg)
    cpu = time.process_time()
    for recs in ordered.values():
        for r in recs:
            if isinstance(r, Detections):
                engine.on_detections(r)
            else:
                engine.on_frame(r)
    return time.process_time() - cpu


class MemoryS3:
    """The two S3 calls the archive reader makes, over objects in memory."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_paginator(self, name: str) -> MemoryS3:
        return self

    def paginate(self, *, Bucket: str, Prefix: str) -> list[dict[str, Any]]:  # noqa: N803
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        return [{"Contents": [{"Key": k, "ETag": str(len(self.objects[k]))} for k in keys]}]

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"Body": io.BytesIO(self.objects[Key])}


def backtest(
    configs: list[SensorConfig], serde: Serde, reader: ArchiveReader, cameras: list[str]
) -> tuple[float, int]:
    """CPU seconds of read (list, get, decode) + order + replay, and the detections replayed."""
    cpu = time.process_time()
    span = {"start_us": START, "end_us": START + 3_600_000_000}
    frames = reader.records(serde.topic(catalog.FRAMES, FrameRef), catalog.FRAMES, cameras,
                            **span)  # fmt: skip
    dets = reader.records(serde.topic(catalog.DETECTIONS, Detections), catalog.DETECTIONS,
                          cameras, **span)  # fmt: skip
    result = replay(configs, by_camera(frames, dets))
    return time.process_time() - cpu, result.detections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--sensors", type=int, default=10)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300, help="analysed frames per camera")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(42)
    cameras = [f"cam-{c:03d}" for c in range(args.cameras)]
    configs = [cfg for cam in cameras for cfg in sensors_for(cam, args.sensors, rng)]
    dets = messages(args.cameras, args.frames, args.objects, rng)
    frames = frames_of(dets)
    serde = Serde(InMemorySchemaResolver())
    s3 = MemoryS3(archive(serde, catalog.DETECTIONS, dets) | archive(serde, catalog.FRAMES, frames))
    settings = BacktestSettings(archive_slack_s=0)
    ordered = by_camera(frames, dets)
    n = len(dets)
    core(configs, ordered)  # warm-up
    core_s = statistics.median(core(configs, ordered) for _ in range(args.runs))
    cold = [
        backtest(configs, serde, ArchiveReader(settings, s3), cameras) for _ in range(args.runs)
    ]
    reader = ArchiveReader(settings, s3)
    backtest(configs, serde, reader, cameras)
    warm = [backtest(configs, serde, reader, cameras) for _ in range(args.runs)]
    assert all(replayed == n for _, replayed in cold + warm)
    cold_s = statistics.median(s for s, _ in cold)
    warm_s = statistics.median(s for s, _ in warm)
    size = sum(len(b) for b in s3.objects.values())

    print(
        f"backtest vs rules core: {args.cameras} cameras x {args.sensors} sensors, "
        f"{args.objects} objects/msg, {n:,} detections + {len(frames):,} frames "
        f"({len(s3.objects)} archive objects, {size / 1e6:.1f} MB), median of {args.runs} "
        "runs, CPU seconds, one core"
    )
    rows = [
        ("rules core alone, detections/s", f"{n / core_s:,.0f}"),
        ("backtest, cold reader (decode all), detections/s", f"{n / cold_s:,.0f}"),
        ("backtest, warm reader (decoded kept), detections/s", f"{n / warm_s:,.0f}"),
        ("cold backtest / rules core", f"{core_s / cold_s:.2f}x (goal >= 0.7x)"),
        ("warm backtest / rules core", f"{core_s / warm_s:.2f}x (goal >= 0.7x)"),
        ("run seconds cold | warm", ", ".join(f"{s:.3f}" for s, _ in cold) + " | "
         + ", ".join(f"{s:.3f}" for s, _ in warm)),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
