"""Builders for the rules-core tests: sensors, objects placed by their anchor, a timeline feeder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from schemas.records import (
    Alert,
    AlertLifecycle,
    BBox,
    DetectedObject,
    Detections,
    Feedback,
    FrameRef,
    Point,
    Schedule,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Verdict,
    detections_event_id,
    feedback_id,
    frame_event_id,
)
from stream_processors.rules import Engine, EngineOptions
from stream_processors.rules.grouping import Output

CAM = "cam-1"
T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
S = 1_000_000
SQUARE = ((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8))
VERTICAL = ((0.5, 0.0), (0.5, 1.0))
TWO_LINES = ((0.3, 0.0), (0.3, 1.0), (0.7, 0.0), (0.7, 1.0))
"""A speed sensor's line 1 at x = 0.3 and line 2 at x = 0.7 (both drawn top to bottom)."""


def sensor(
    sensor_id: str, kind: SensorKind, points: Sequence[tuple[float, float]], **kw: Any
) -> SensorConfig:
    """A sensor definition of camera CAM (unless ``camera_id`` is given)."""
    values: dict[str, Any] = {"camera_id": CAM, "updated_ts": 0}
    values.update(kw)
    return SensorConfig(
        sensor_id=sensor_id, kind=kind, points=tuple(Point(x, y) for x, y in points), **values
    )


def tripwire(
    sensor_id: str = "line", points: Sequence[tuple[float, float]] = VERTICAL, **kw: Any
) -> SensorConfig:
    return sensor(sensor_id, SensorKind.TRIPWIRE, points, **kw)


def zone(
    sensor_id: str = "zone", points: Sequence[tuple[float, float]] = SQUARE, **kw: Any
) -> SensorConfig:
    return sensor(sensor_id, SensorKind.ZONE, points, **kw)


def loiter(
    sensor_id: str = "loiter",
    points: Sequence[tuple[float, float]] = SQUARE,
    seconds: float = 10.0,
    **kw: Any,
) -> SensorConfig:
    return sensor(sensor_id, SensorKind.LOITERING, points, seconds=seconds, **kw)


def aoi(
    sensor_id: str = "aoi", points: Sequence[tuple[float, float]] = SQUARE, **kw: Any
) -> SensorConfig:
    return sensor(sensor_id, SensorKind.AOI, points, **kw)


def speed(
    sensor_id: str = "speed",
    points: Sequence[tuple[float, float]] = TWO_LINES,
    distance_m: float = 20.0,
    **kw: Any,
) -> SensorConfig:
    return sensor(sensor_id, SensorKind.SPEED, points, distance_m=distance_m, **kw)


def obj(
    track_id: int,
    x: float,
    y: float,
    *,
    label: str = "person",
    score: float = 0.9,
    w: float = 0.1,
    h: float = 0.2,
) -> DetectedObject:
    """An object whose anchor (bottom-centre) is at (x, y)."""
    return DetectedObject(
        track_id=track_id, label=label, score=score, bbox=BBox(x - w / 2, y - h, x + w / 2, y)
    )


def det(
    ts: int,
    objs: Iterable[DetectedObject],
    *,
    seq: int = 0,
    camera: str = CAM,
    evidence: str | None = None,
) -> Detections:
    return Detections(
        event_id=detections_event_id(camera, ts, seq),
        camera_id=camera,
        frame_ts=ts,
        seq=seq,
        model="test",
        objects=tuple(objs),
        evidence_uri=evidence,
    )


def frame(
    ts: int, *, seq: int = 0, analysed: bool = False, count: int = 0, camera: str = CAM
) -> FrameRef:
    return FrameRef(
        event_id=frame_event_id(camera, ts, seq),
        camera_id=camera,
        frame_ts=ts,
        seq=seq,
        width=640,
        height=480,
        motion_score=0.0,
        analysed=analysed,
        object_count=count,
    )


def feedback(
    alert_id: str,
    verdict: Verdict = Verdict.FALSE_POSITIVE,
    *,
    ts: int = T0,
    boxes: Sequence[BBox] = (),
    camera: str = CAM,
    sensor_id: str = "zone",
) -> Feedback:
    return Feedback(
        feedback_id=feedback_id(alert_id, "op", ts),
        alert_id=alert_id,
        camera_id=camera,
        sensor_id=sensor_id,
        verdict=verdict,
        operator="op",
        ts=ts,
        note=None,
        boxes=tuple(boxes),
    )


def schedule(
    days: Sequence[int] = (), hours: Sequence[tuple[int, int]] = (), tz: str = "UTC"
) -> Schedule:
    from schemas.records import TimeWindow

    return Schedule(days=tuple(days), hours=tuple(TimeWindow(a, b) for a, b in hours), timezone=tz)


def make_engine(*sensors: SensorConfig, **options: Any) -> Engine:
    engine = Engine(EngineOptions(**options))
    for cfg in sensors:
        assert engine.on_sensor(cfg.sensor_id, cfg) == []
    return engine


def events(outputs: Iterable[Output], kind: SensorEventKind | None = None) -> list[SensorEvent]:
    return [o for o in outputs if isinstance(o, SensorEvent) and (kind is None or o.kind is kind)]


def alerts(outputs: Iterable[Output], lifecycle: AlertLifecycle | None = None) -> list[Alert]:
    return [
        o
        for o in outputs
        if isinstance(o, Alert) and (lifecycle is None or o.lifecycle is lifecycle)
    ]


class Feed:
    """Drives an engine along a timeline in seconds after T0, numbering frames itself."""

    def __init__(self, engine: Engine, camera: str = CAM) -> None:
        self.engine = engine
        self.camera = camera
        self.seq = 0
        self.last = -1.0  # seconds of the latest Detections fed
        self.outputs: list[Output] = []

    def at(
        self, seconds: float, *objs: DetectedObject, evidence: str | None = None
    ) -> list[Output]:
        """Detections at T0 + seconds."""
        self.seq += 1
        self.last = seconds
        out = self.engine.on_detections(
            det(T0 + round(seconds * S), objs, seq=self.seq, camera=self.camera, evidence=evidence)
        )
        self.outputs.extend(out)
        return out

    def frame(self, seconds: float, *, analysed: bool = False, count: int = 0) -> list[Output]:
        """A FrameRef heartbeat at T0 + seconds."""
        self.seq += 1
        out = self.engine.on_frame(
            frame(
                T0 + round(seconds * S),
                seq=self.seq,
                analysed=analysed,
                count=count,
                camera=self.camera,
            )
        )
        self.outputs.extend(out)
        return out

    def advance(self, seconds: float) -> list[Output]:
        out = self.engine.advance(self.camera, T0 + round(seconds * S))
        self.outputs.extend(out)
        return out

    def walk(
        self,
        track_id: int,
        path: Sequence[tuple[float, float]],
        *,
        start: float | None = None,
        step: float = 0.2,
        **kw: Any,
    ) -> list[Output]:
        """One object along ``path``, one Detections message per point (by default starting
        one step after the latest message)."""
        if start is None:
            start = max(0.0, self.last + step)
        out: list[Output] = []
        for i, (x, y) in enumerate(path):
            out.extend(self.at(start + i * step, obj(track_id, x, y, **kw)))
        return out
