"""Edge producer throughput: decode + sample + motion per core, detector latency, events/s.

Figures, all measured in this run:
- decode: raw PyAV decode of a generated 1280x720 25 fps H.264 clip (every frame, one
  thread) is the baseline; the edge path (decode only what the sampler needs, luma-plane
  motion gate on sampled frames) is measured on the same file and given as a ratio to it, and
  as camera streams per core at 5 fps analysis (seconds of video handled per second, pinned
  to one core). Two GOPs: 25 (1 s, full decoding needed at 5 fps) and 5 (keyframe-only).
- motion gate: median cost per 1280x720 frame on a static and on a moving scene, as a ratio
  to the raw strided subsample of the luma plane it reads (the least any gate must do); and
  on the moving scene in the ``absorb_s`` after a warm-up, while the gate tracks steps (also
  after a lighting change or an absorption).
- detectors: median per-frame latency on a 1280x720 frame, one thread each. There are no
  YOLO weights here, so ``onnx`` runs a YOLO-layout test net built with onnx.helper
  (random weights, about 1.1 GFLOPs at 640x640; YOLO11n is 6.5), through the same
  letterbox, inference and NMS path as a real model.
- events/s: the edge path (encode, spool append, forwarder to the broker, acks=all) against a
  raw confluent-kafka produce loop of the same pre-encoded events on the same broker.

Usage: ``python bench/bench_edge.py [--seconds 12] [--events 40000] [--data-dir DIR]``.
Without ``--data-dir`` a temporary stack (S3, Kafka, registry) is started for the events row;
``--no-broker`` skips it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import av
import numpy as np

from producers.detectors.hog import HogDetector, HogOptions
from producers.detectors.motion import MotionDetector, MotionOptions
from producers.detectors.onnx import ModelPool, OnnxDetector, OnnxOptions
from producers.frames import Frame
from producers.motion import MotionConfig, MotionGate, MotionResult, subsample_step
from producers.sampling import Sampler
from producers.sources.base import SourceContext
from producers.sources.file import FileOptions, FileSource
from producers.synthetic.scene import SceneSpec
from producers.synthetic.video import write_scene_video

Row = tuple[str, float, str, str]  # figure, value, unit, note


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def raw_decode(path: Path) -> tuple[int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        started = time.perf_counter()
        n = sum(1 for _ in container.decode(stream))
        return n, time.perf_counter() - started


def edge_decode(path: Path, fps: float) -> tuple[int, int, float, float]:
    """(frames decoded, frames sampled, seconds, video seconds) through the edge's path."""
    source = FileSource(FileOptions(path=path), SourceContext(camera_id="bench", fps=fps))
    sampler, gate = Sampler(fps), MotionGate(MotionConfig())
    decoded = sampled = 0
    last = 0.0
    started = time.perf_counter()
    for frame in source.frames():
        decoded += 1
        last = frame.pts_s
        if sampler.keep(frame.pts_s):
            sampled += 1
            gate.update(frame.luma(), frame.pts_s)
    return decoded, sampled, time.perf_counter() - started, last + 1 / 25


def best(fn: Callable[[], tuple[Any, ...]], reps: int) -> tuple[Any, ...]:
    runs = [fn() for _ in range(reps)]
    return min(runs, key=lambda r: r[-2] if len(r) == 4 else r[-1])


def decode_rows(tmp: Path, seconds: float, reps: int) -> list[Row]:
    rows: list[Row] = []
    for gop in (25, 5):
        clip = tmp / f"clip-gop{gop}.mp4"
        info = write_scene_video(clip, scene=SceneSpec(seed=1), seconds=seconds, fps=25,
                                 width=1280, height=720, gop=gop, noise=3.0)  # fmt: skip
        n, t = best(partial(raw_decode, clip), reps)
        raw_fps = n / t
        what = f"{info.codec}, {clip.stat().st_size / 1e6:.1f} MB"
        rows.append((f"raw PyAV decode, GOP {gop} ({what})", raw_fps, "frames/s", "baseline"))
        for fps in (5.0, 1.0) if gop == 25 else (5.0,):
            dec, samp, t, video_s = best(partial(edge_decode, clip, fps), reps)
            note = f"x{n / t / raw_fps:.2f} raw; decoded {dec}/{n}, sampled {samp}"
            rows.append((f"edge decode+sample+motion, GOP {gop}, {fps:g} fps analysis",
                         n / t, "frames/s", note))  # fmt: skip
            rows.append((f"  -> camera streams per core at {fps:g} fps", video_s / t,
                         "streams", "video seconds handled per second"))  # fmt: skip
    return rows


def yolo_test_net(path: Path) -> Path:
    """A YOLO-layout conv net ([1, 84, 6400] output) with seeded random weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    layers = [(3, 16, 3, 2), (16, 32, 3, 2), (32, 64, 3, 2), (64, 64, 3, 1), (64, 84, 1, 1)]
    nodes, inits, x = [], [], "images"
    for i, (cin, cout, k, s) in enumerate(layers):
        w = (rng.standard_normal((cout, cin, k, k)) * (2 / (cin * k * k)) ** 0.5).astype(np.float32)
        b = np.zeros(cout, dtype=np.float32)
        if i == len(layers) - 1:
            b[4:] = -6.0  # class logits mostly low: a realistic handful of candidates
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"w{i}", f"b{i}"],
                [f"c{i}"],
                kernel_shape=[k, k],
                strides=[s, s],
                pads=[k // 2] * 4,
            )
        )
        x = f"c{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"r{i}"]))
            x = f"r{i}"
    inits.append(numpy_helper.from_array(np.array([1, 84, 6400], dtype=np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", [x, "shape"], ["flat"]))
    nodes.append(helper.make_node("Sigmoid", ["flat"], ["output0"]))
    graph = helper.make_graph(
        nodes,
        "yolo-layout-bench",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 84, 6400])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def gate_update(gate: MotionGate, frame: Frame) -> MotionResult:
    """One gate step on a frame (its luma plane and time)."""
    return gate.update(frame.luma(), frame.pts_s)


def gate_rows(frames: list[Frame], reps: int) -> list[Row]:
    """The gate's cost alone, per 1280x720 frame, against the raw strided subsample it reads.

    Mean per frame over the clip's frames, best of several rounds (work done only now and
    then, like the gate's stillness checks, counts), on one frame repeated (a static scene)
    and on the frames in order, looped with times 0.2 s apart (objects moving through). Timed
    in the thread's CPU time: other processes on a shared machine do not inflate it.
    """
    lumas = [f.luma() for f in frames]
    step = subsample_step(lumas[0].shape[1], MotionConfig().work_width)
    n = len(lumas)
    rounds = max(20, reps * 10)

    def timed(fn: Callable[[int], object]) -> float:
        for i in range(n):  # warm up (and for the gate: learn the background)
            fn(i)
        means = []
        for r in range(1, rounds + 1):
            started = time.thread_time()
            for i in range(r * n, (r + 1) * n):
                fn(i)
            means.append((time.thread_time() - started) / n)
        return min(means) * 1000

    def subsample(i: int) -> object:
        return lumas[i % n][::step, ::step].astype(np.float32)

    def young() -> float:
        """Objects moving during the absorb_s after a warm-up, when steps are tracked."""
        cfg = MotionConfig()
        warm = round(cfg.warmup_s / dt) + 1  # the last one ends the warm-up
        live = round(cfg.absorb_s / dt) - 1
        means = []
        for _ in range(rounds):
            gate = MotionGate(cfg)
            for i in range(warm):
                gate.update(lumas[i % n], i * dt)
            started = time.thread_time()
            for i in range(warm, warm + live):
                gate.update(lumas[i % n], i * dt)
            means.append((time.thread_time() - started) / live)
        return min(means) * 1000

    static, moving = MotionGate(MotionConfig()), MotionGate(MotionConfig())
    dt = 1 / 5  # the gate sees sampled frames: 5 fps analysis
    raw = timed(subsample)
    still = timed(lambda i: static.update(lumas[0], i * dt))
    moved = timed(lambda i: moving.update(lumas[i % n], i * dt))
    fresh = young()
    w = lumas[0].shape[1] // step
    return [
        (f"raw strided luma subsample to {w} px (float32)", raw, "ms/frame", "baseline"),
        ("motion gate, static scene", still, "ms/frame", f"x{still / raw:.2f} baseline"),
        ("motion gate, objects moving", moved, "ms/frame", f"x{moved / raw:.2f} baseline"),
        ("  -> in the absorb_s after a warm-up", fresh, "ms/frame", f"x{fresh / raw:.2f}, steps"),
    ]


def detector_rows(tmp: Path, reps: int) -> list[Row]:
    clip = tmp / "clip-gop25.mp4"
    frames = []
    source = FileSource(
        FileOptions(path=clip), SourceContext(camera_id="b", fps=25, keyframe_only=False)
    )
    for frame in source.frames():
        frames.append(
            Frame(
                ts_us=frame.ts_us,
                pts_s=frame.pts_s,
                width=frame.width,
                height=frame.height,
                bgr=frame.bgr().copy(),
            )
        )
        if len(frames) == 60:
            break
    gate = MotionGate(MotionConfig(work_width=320))
    motions = [gate_update(gate, f) for f in frames]
    probe = frames[-1]
    model = yolo_test_net(tmp / "yolo-layout.onnx")
    motion_det = MotionDetector(MotionOptions())
    hog = HogDetector(HogOptions())
    onnx_det = OnnxDetector(OnnxOptions(model=model), ModelPool())
    detectors: list[tuple[str, Callable[[Frame], object]]] = [
        ("motion detector (320 px mask -> blobs)", lambda f: motion_det.detect(f, motions[-1])),
        ("hog people detector (scaled to 640 px)", lambda f: hog.detect(f, motions[-1])),
        ("onnx YOLO-layout test net 640x640, CPU", lambda f: onnx_det.detect(f, motions[-1])),
    ]
    rows: list[Row] = gate_rows(frames, reps)
    for name, fn in detectors:
        fn(probe)  # warm up
        times = []
        for _ in range(max(5, reps * 5)):
            # A fresh frame each time: BGR conversion caches must not flatter anyone.
            frame = Frame(
                ts_us=0, pts_s=0, width=1280, height=720, bgr=probe.bgr(), luma=probe.luma()
            )
            started = time.perf_counter()
            fn(frame)
            times.append(time.perf_counter() - started)
        rows.append((name, statistics.median(times) * 1000, "ms/frame", "1280x720 input"))
    return rows


def _outcomes(n: int) -> list[Any]:
    from producers.pipeline import FrameOutcome
    from schemas.records import BBox, DetectedObject, Detections, FrameRef
    from schemas.records.ids import detections_event_id, frame_event_id

    out = []
    t0 = 1_700_000_000_000_000
    for i in range(n):
        cam, ts = f"bench-{i % 64}", t0 + i * 200_000
        objects = tuple(
            DetectedObject(
                track_id=i * 3 + k,
                label="car",
                score=0.9,
                bbox=BBox(0.1 * k, 0.2, 0.1 * k + 0.08, 0.3),
            )
            for k in range(3)
        )
        frame = FrameRef(
            event_id=frame_event_id(cam, ts, i),
            camera_id=cam,
            frame_ts=ts,
            seq=i,
            width=1280,
            height=720,
            motion_score=0.01,
            analysed=True,
            object_count=3,
        )
        dets = Detections(
            event_id=detections_event_id(cam, ts, i),
            camera_id=cam,
            frame_ts=ts,
            seq=i,
            model="motion",
            objects=objects,
        )
        out.append(FrameOutcome(frame, dets, 0.001, None))
    return out


def _stack(data_dir: Path | None, tmp: Path) -> tuple[Any, Any]:
    from infra.stack import Stack
    from infra.stack.process import free_port
    from infra.stack.settings import Ports, StackEndpoints, StackSettings
    from vidsight.settings import load

    if data_dir is not None:
        return None, load(StackEndpoints, data_dir=data_dir)
    names = list(Ports.model_fields)
    ports = Ports(**{n: free_port() for n in names})
    stack = Stack(StackSettings(data_dir=tmp, ports=ports), ["s3", "kafka", "schema-registry"])
    stack.up()
    return stack, StackEndpoints.model_validate(stack.endpoints())


def _framed(spool: Any, resolver: Any, count: int) -> list[tuple[str, bytes, bytes]]:
    """The spooled events with their Confluent header, for the raw loop."""
    from producers.events import decode_event
    from schemas import catalog

    out = []
    for rec in spool.read(max_records=count):
        ev = decode_event(rec.payload)
        stem = "FrameRef" if ev.topic == catalog.FRAMES else "Detections"
        sid = resolver.id_for(catalog.value_subject(ev.topic), catalog.schema_text(stem))
        out.append((ev.topic, ev.key, b"\x00" + sid.to_bytes(4, "big") + ev.value))
    spool.rewind()
    return out


def _raw_produce(
    endpoints: Any, framed: list[tuple[str, bytes, bytes]], outcomes: list[Any] | None = None
) -> float:
    """Seconds to produce and flush the events; with ``outcomes``, encoding them first too."""
    import logging

    from confluent_kafka import Producer

    from schemas import catalog
    from schemas.records import Detections, FrameRef
    from schemas.serde import Serde

    # The forwarder's delivery settings (EdgeSettings defaults): acks=all, one request in
    # flight per connection so that retries cannot reorder a camera's events.
    producer = Producer(
        endpoints.kafka_client_config(
            **{
                "acks": "all",
                "max.in.flight.requests.per.connection": 1,
                "linger.ms": 10,
                "partitioner": "murmur2_random",
                "logger": logging.getLogger("rdkafka.bench"),
            }
        )
    )
    started = time.perf_counter()
    if outcomes is not None:
        serde = Serde.for_registry(endpoints)
        frames = serde.topic(catalog.FRAMES, FrameRef)
        dets = serde.topic(catalog.DETECTIONS, Detections)
        framed = []
        for o in outcomes:
            key = o.frame.camera_id.encode()
            framed.append((catalog.FRAMES, key, frames.encode(o.frame)))
            framed.append((catalog.DETECTIONS, key, dets.encode(o.detections)))
    for topic, key, value in framed:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(120)
    return time.perf_counter() - started


def _edge_run(endpoints: Any, resolver: Any, tmp: Path, outcomes: list[Any]) -> dict[str, float]:
    """Seconds to append all events, to forward them, and both at once (the real mode)."""
    from producers.forwarder import KafkaForwarder
    from producers.metrics import EdgeMetrics
    from producers.outbox import EventOutbox
    from producers.spool import Spool

    times: dict[str, float] = {}
    for mode in ("sequential", "concurrent"):
        spool = Spool(tmp / f"spool-{mode}-{time.monotonic_ns()}")
        outbox = EventOutbox(spool, tmp / "schemas")
        forwarder = KafkaForwarder(
            spool, endpoints.kafka_client_config(), resolver, outbox.stash, EdgeMetrics()
        )
        started = time.perf_counter()
        if mode == "concurrent":
            forwarder.start()
        for o in outcomes:
            outbox.publish(o)
        times["append" if mode == "sequential" else "both"] = time.perf_counter() - started
        if mode == "sequential":
            started = time.perf_counter()
            forwarder.start()
        forwarder.wait_idle(300)
        elapsed = time.perf_counter() - started
        times["forward" if mode == "sequential" else "both"] = elapsed
        forwarder.stop()
        spool.close()
    return times


def events_rows(data_dir: Path | None, count: int, reps: int) -> list[Row]:
    """Raw produce loop vs the edge's spool + forwarder, same events, same broker; best of reps."""
    from producers.outbox import EventOutbox
    from producers.spool import Spool
    from schemas.registry_access import RegistryResolver
    from schemas.topics import create_topics

    with tempfile.TemporaryDirectory(prefix="bench-edge-stack-") as tmp_name:
        tmp = Path(tmp_name)
        stack, endpoints = _stack(data_dir, tmp / "stack")
        try:
            create_topics(endpoints.kafka_client_config())
            resolver = RegistryResolver(endpoints)
            outcomes = _outcomes(count // 2)
            probe = Spool(tmp / "probe")
            outbox = EventOutbox(probe, tmp / "schemas")
            for o in outcomes:
                outbox.publish(o)
            framed = _framed(probe, resolver, count)
            probe.close()
            raw_s = min(_raw_produce(endpoints, framed) for _ in range(reps))
            raw_enc_s = min(_raw_produce(endpoints, [], outcomes) for _ in range(reps))
            runs = [_edge_run(endpoints, resolver, tmp, outcomes) for _ in range(reps)]
        finally:
            if stack is not None:
                stack.down()
    raw, raw_enc = count / raw_s, count / raw_enc_s
    best_of = {k: min(r[k] for r in runs) for k in runs[0]}
    fwd, both = count / best_of["forward"], count / best_of["both"]
    return [
        ("raw confluent-kafka produce loop, pre-encoded", raw, "events/s", "baseline 1"),
        ("raw encode (serde) + produce loop", raw_enc, "events/s", "baseline 2: the same work"),
        ("edge outbox: encode + spool append", count / best_of["append"], "events/s",
         "camera threads' side, no broker"),
        ("edge forwarder: spool -> broker", fwd, "events/s", f"x{fwd / raw:.2f} baseline 1"),
        ("edge published end to end (append || forward)", both, "events/s",
         f"x{both / raw_enc:.2f} baseline 2; spooled, sent, acknowledged"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=12.0, help="clip length")
    parser.add_argument("--reps", type=int, default=2, help="repetitions (best/median kept)")
    parser.add_argument("--events", type=int, default=40_000, help="events for the events row")
    parser.add_argument("--data-dir", type=Path, default=None, help="use this running stack")
    parser.add_argument("--no-broker", action="store_true", help="skip the events rows")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp_name:
        tmp = Path(tmp_name)
        holder: dict[str, list[Row]] = {}

        def pinned() -> None:
            import cv2

            cv2.setNumThreads(1)
            pin_one_core()  # per-core figures: this thread only
            holder["decode"] = decode_rows(tmp, args.seconds, args.reps)
            holder["detect"] = detector_rows(tmp, args.reps)

        worker = threading.Thread(target=pinned)
        worker.start()
        worker.join()
        rows += holder["decode"] + holder["detect"]
        if not args.no_broker:
            rows += events_rows(args.data_dir, args.events, args.reps)
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'figure':<{width}} {'value':>12}  {'unit':<10} note")
    print("-" * (width + 60))
    for name, value, unit, note in rows:
        digits = 4 if value < 0.1 else 3 if value < 1 else 1
        print(f"{name:<{width}} {value:>12,.{digits}f}  {unit:<10} {note}")


if __name__ == "__main__":
    main()
