"""Micro-benchmark of the pure rules core: Detections messages/s on one core.

Default workload: 100 cameras x 10 sensors (4 zones, 3 tripwires, 2 loitering zones, 1 area of
interest; polygons of 4 to 8 vertices, some concave) and 3 moving, tracked objects per message,
messages interleaved across cameras as on one partition. Inputs are built before timing; the
timed loop is ``engine.on_detections`` only. Prints the median of several runs, plus the cost
of one point-in-polygon test done three ways (why the core uses hand-written ray casting).

    python bench/bench_rules.py [--cameras 100] [--sensors 10] [--objects 3] [--frames 300]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable

from schemas.records import (
    BBox,
    DetectedObject,
    Detections,
    DirectionFilter,
    Point,
    SensorConfig,
    SensorKind,
    detections_event_id,
)
from stream_processors.rules import Engine
from stream_processors.rules.geometry import Polygon, Segment

_KINDS = (
    [SensorKind.ZONE] * 4
    + [SensorKind.TRIPWIRE] * 3
    + [SensorKind.LOITERING] * 2
    + [SensorKind.AOI]
)


def _polygon(rng: random.Random, cx: float, cy: float, r: float) -> tuple[Point, ...]:
    n = rng.randint(4, 8)
    pts = []
    for i in range(n):
        angle = 2 * math.pi * i / n
        radius = r * (0.5 if i % 3 == 1 else 1.0)  # every third vertex pulled in: concave
        pts.append(Point(cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return tuple(pts)


def sensors_for(camera: str, count: int, rng: random.Random) -> list[SensorConfig]:
    """``count`` sensors of mixed kinds for one camera."""
    result = []
    for i in range(count):
        kind = _KINDS[i % len(_KINDS)]
        if kind is SensorKind.TRIPWIRE:
            x = rng.uniform(0.2, 0.8)
            points: tuple[Point, ...] = (Point(x, 0.05), Point(x + 0.05, 0.95))
        elif kind is SensorKind.AOI:
            points = (Point(0.01, 0.01), Point(0.99, 0.01), Point(0.99, 0.99), Point(0.01, 0.99))
        else:
            points = _polygon(
                rng, rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.25)
            )
        result.append(
            SensorConfig(
                sensor_id=f"{camera}-s{i}",
                camera_id=camera,
                kind=kind,
                points=points,
                direction=DirectionFilter.BOTH,
                labels=("person", "car") if i % 2 else (),
                min_score=0.3,
                seconds=10.0 if kind is SensorKind.LOITERING else None,
                inertia_frames=2,
                updated_ts=0,
            )
        )
    return result


def messages(cameras: int, frames: int, objects: int, rng: random.Random) -> list[Detections]:
    """Detections of ``objects`` random-walking tracks per frame, interleaved by camera."""
    state = {
        (c, k): [rng.uniform(0.1, 0.9), rng.uniform(0.2, 0.9), rng.uniform(-0.01, 0.01)]
        for c in range(cameras)
        for k in range(objects)
    }
    out = []
    for f in range(frames):
        ts = 1_700_000_000_000_000 + f * 200_000  # 5 fps
        for c in range(cameras):
            cam = f"cam-{c:03d}"
            objs = []
            for k in range(objects):
                s = state[(c, k)]
                s[0] += s[2] + rng.uniform(-0.003, 0.003)
                s[1] += rng.uniform(-0.003, 0.003)
                if not 0.05 < s[0] < 0.95:
                    s[2] = -s[2]
                s[1] = min(max(s[1], 0.15), 0.95)
                x, y = s[0], s[1]
                box = BBox(x - 0.03, y - 0.12, x + 0.03, y)
                label = "person" if k % 2 == 0 else "car"
                objs.append(
                    DetectedObject(
                        track_id=c * 100 + k, label=label, score=rng.uniform(0.5, 0.95), bbox=box
                    )
                )
            out.append(
                Detections(
                    event_id=detections_event_id(cam, ts, f),
                    camera_id=cam,
                    frame_ts=ts,
                    seq=f,
                    model="bench",
                    objects=tuple(objs),
                )
            )
    return out


def run_once(configs: list[SensorConfig], msgs: list[Detections]) -> tuple[float, float, int]:
    """Wall and CPU seconds for all messages through a fresh engine, and the output count."""
    engine = Engine()
    for cfg in configs:
        engine.on_sensor(cfg.sensor_id, cfg)
    produced = 0
    on_detections = engine.on_detections
    cpu = time.process_time()
    start = time.perf_counter()
    for m in msgs:
        produced += len(on_detections(m))
    return time.perf_counter() - start, time.process_time() - cpu, produced


def geometry_only(configs: list[SensorConfig], msgs: list[Detections]) -> tuple[float, float]:
    """Wall and CPU seconds of the bare geometric tests (every anchor against every shape of
    its camera, compiled, no state, no filters, no records): the floor under the engine."""
    polygons: dict[str, list[Polygon]] = {}
    segments: dict[str, list[Segment]] = {}
    for cfg in configs:
        coords = tuple((p.x, p.y) for p in cfg.points)
        if cfg.kind is SensorKind.TRIPWIRE:
            segments.setdefault(cfg.camera_id, []).append(Segment.from_coords(coords))
        else:
            polygons.setdefault(cfg.camera_id, []).append(Polygon.from_coords(coords))
    cpu = time.process_time()
    start = time.perf_counter()
    hits = 0
    for m in msgs:
        polys = polygons.get(m.camera_id, [])
        segs = segments.get(m.camera_id, [])
        for o in m.objects:
            b = o.bbox
            x = (b.x1 + b.x2) * 0.5
            y = b.y2
            for poly in polys:
                hits += poly.contains(x, y)
            for seg in segs:
                hits += seg.signed_distance(x, y) > 0
    return time.perf_counter() - start, time.process_time() - cpu


def _per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e9


def point_in_polygon_table() -> list[tuple[str, float]]:
    """ns per point-in-polygon test of an 8-vertex concave polygon, three ways."""
    import numpy as np
    import shapely
    from shapely.geometry import Point as SPoint
    from shapely.geometry import Polygon as SPolygon
    from shapely.prepared import prep

    pts = _polygon(random.Random(1), 0.5, 0.5, 0.3)
    coords = tuple((p.x, p.y) for p in pts)
    poly = Polygon.from_coords(coords)
    shp = SPolygon(coords)
    prepared = prep(shp)
    shapely.prepare(shp)
    xs = np.array([c[0] for c in coords])
    ys = np.array([c[1] for c in coords])
    xj, yj = np.roll(xs, -1), np.roll(ys, -1)

    def numpy_contains(x: float, y: float) -> bool:
        cond = (ys > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = xs + (y - ys) * (xj - xs) / (yj - ys)
        return bool(np.count_nonzero(cond & (x < xcross)) % 2)

    n = 50_000
    return [
        ("ray casting over float tuples (used)", _per_call(lambda: poly.contains(0.52, 0.47), n)),
        (
            "shapely.contains_xy (prepared)",
            _per_call(lambda: shapely.contains_xy(shp, 0.52, 0.47), n),
        ),
        (
            "shapely prepared .contains(Point)",
            _per_call(lambda: prepared.contains(SPoint(0.52, 0.47)), n),
        ),
        ("numpy vectorised over edges", _per_call(lambda: numpy_contains(0.52, 0.47), n)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--sensors", type=int, default=10)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300, help="messages per camera")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(42)
    configs = [
        cfg for c in range(args.cameras) for cfg in sensors_for(f"cam-{c:03d}", args.sensors, rng)
    ]
    msgs = messages(args.cameras, args.frames, args.objects, rng)
    run_once(configs, msgs[: len(msgs) // 10])  # warm-up
    results = [run_once(configs, msgs) for _ in range(args.runs)]
    floor = [geometry_only(configs, msgs) for _ in range(args.runs)]
    wall = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[1] for r in results)
    floor_cpu = statistics.median(r[1] for r in floor)
    outputs = results[0][2]
    n = len(msgs)

    print(
        f"rules core: {args.cameras} cameras x {args.sensors} sensors, {args.objects} objects/msg, "
        f"{n} messages, median of {args.runs} runs, one core"
    )
    rows = [
        ("detections messages/s (CPU time)", f"{n / cpu:,.0f}"),
        ("detections messages/s (wall clock)", f"{n / wall:,.0f}"),
        ("objects/s (CPU time)", f"{n * args.objects / cpu:,.0f}"),
        ("us per message (CPU time)", f"{cpu / n * 1e6:.1f}"),
        ("outputs (events + alerts) per run", f"{outputs:,}"),
        ("geometry-only floor, messages/s", f"{n / floor_cpu:,.0f}"),
        ("engine / geometry-only floor", f"{n / cpu / (n / floor_cpu):.2f}x"),
        ("wall run times (s)", ", ".join(f"{r[0]:.3f}" for r in results)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print("\npoint-in-polygon, one 8-vertex concave polygon, ns per test:")
    table = point_in_polygon_table()
    base = table[0][1]
    width = max(len(k) for k, _ in table)
    for name, ns in table:
        print(f"  {name:<{width}}  {ns:8.0f} ns  ({ns / base:4.1f}x)")


if __name__ == "__main__":
    main()
