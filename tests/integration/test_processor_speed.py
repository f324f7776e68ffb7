"""The speed sensor kind through the real broker and registry: one worker, exact speeds."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from test_processor_support import (
    T0,
    by_camera,
    producer,
    publish_records,
    registry,
    run_inline,
    settings_for,
    topic_set,
)

from schemas import catalog
from schemas.records import (
    Alert,
    AlertLifecycle,
    BBox,
    CrossingDirection,
    DetectedObject,
    Detections,
    DirectionFilter,
    FrameRef,
    Point,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    detections_event_id,
    frame_event_id,
)
from schemas.serde import Serde

pytestmark = pytest.mark.integration

__all__ = ["registry"]  # the fixture

FPS = 5
# Track id -> (x at t = 0, normalised width per second, label): line 1 at x = 0.3 and line 2
# at x = 0.7 are 25 m apart, so 0.1/s takes 4 s (22.5 km/h) and 0.25/s 1.6 s (56.25 km/h).
WALKERS = {1: (0.1, 0.1, "car"), 2: (0.95, -0.25, "car"), 3: (0.05, 0.25, "person")}


def records(camera_id: str) -> list[Detections | FrameRef]:
    """Every frame analysed, one Detections per frame with the walkers still in view."""
    out: list[Detections | FrameRef] = []
    for seq in range(12 * FPS):
        t = seq / FPS
        ts = T0 + round(t * 1_000_000)
        objects = tuple(
            DetectedObject(
                track_id=tid,
                label=label,
                score=0.9,
                bbox=BBox(x - 0.04, 0.4, x + 0.04, 0.6),
            )
            for tid, (x0, v, label) in WALKERS.items()
            if 0.0 < (x := x0 + v * t) < 1.0
        )
        if objects:
            out.append(
                Detections(
                    event_id=detections_event_id(camera_id, ts, seq),
                    camera_id=camera_id,
                    frame_ts=ts,
                    seq=seq,
                    model="test",
                    objects=objects,
                )
            )
        out.append(
            FrameRef(
                event_id=frame_event_id(camera_id, ts, seq),
                camera_id=camera_id,
                frame_ts=ts,
                seq=seq,
                width=640,
                height=480,
                motion_score=0.0,
                analysed=True,
                object_count=len(objects),
            )
        )
    return out


def test_speed_sensor_measures_each_passage_and_alerts_above_its_threshold(registry: Any) -> None:
    stack = registry
    serde = Serde.for_registry(stack.endpoints)
    topics = topic_set(stack, f"speed-{uuid.uuid4().hex[:8]}")
    camera = f"speed-{uuid.uuid4().hex[:6]}"
    cfg = SensorConfig(
        sensor_id=f"{camera}-road",
        camera_id=camera,
        kind=SensorKind.SPEED,
        points=(Point(0.3, 0.0), Point(0.3, 1.0), Point(0.7, 0.0), Point(0.7, 1.0)),
        direction=DirectionFilter.BOTH,
        labels=("car",),
        group_gap_s=3.0,
        updated_ts=T0,
        distance_m=25.0,
        speed_kmh_threshold=40.0,
    )
    p = producer(stack)
    p.produce(
        topics.sensors,
        serde.topic(catalog.CONFIG_SENSORS, SensorConfig).encode(cfg),
        cfg.sensor_id.encode(),
    )
    p.flush()
    publish_records(p, serde, topics, records(camera))
    run_inline(settings_for(stack, topics, f"g-{uuid.uuid4().hex[:8]}"), serde)

    events = by_camera(stack, serde, topics.sensor_events, SensorEvent)[camera]
    speeds = {
        e.track_id: (e.direction, round(e.speed_kmh or 0.0, 6), e.kind)
        for e in events
        if e.kind is SensorEventKind.SPEED
    }
    assert speeds == {
        1: (CrossingDirection.A_TO_B, 22.5, SensorEventKind.SPEED),
        2: (CrossingDirection.B_TO_A, 56.25, SensorEventKind.SPEED),
    }  # the person (3) is not a car
    alerts = by_camera(stack, serde, topics.alerts, Alert)[camera]
    assert [(a.lifecycle, a.rule, a.track_ids) for a in alerts] == [
        (AlertLifecycle.NEW, SensorKind.SPEED, (2,)),
        (AlertLifecycle.END, SensorKind.SPEED, (2,)),
    ]
