"""Camera state moves with its partitions between workers, and learned suppression comes from
the feedback topic: two things a deployment with several workers and operators relies on."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from test_processor_support import (
    T0,
    all_records,
    by_camera,
    outputs_of,
    producer,
    publish_records,
    registry,
    run_inline,
    sensors_of,
    settings_for,
    topic_set,
)

from schemas import catalog
from schemas.records import (
    Alert,
    BBox,
    DetectedObject,
    Detections,
    Feedback,
    Point,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Verdict,
    detections_event_id,
    feedback_id,
)
from schemas.serde import Serde
from stream_processors.runtime import Processor
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

__all__ = ["registry"]  # the fixture


def test_a_second_worker_takes_over_partitions_with_their_state(registry: Any) -> None:
    stack = registry
    serde = Serde.for_registry(stack.endpoints)
    inputs = topic_set(stack, f"rebal-{uuid.uuid4().hex[:8]}")
    shared = topic_set(stack, f"rebal-out-{uuid.uuid4().hex[:8]}")
    p = producer(stack)
    codec = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    # Cameras on both halves of the 6 partitions (murmur2: cam-1 -> 3, cam-2 -> 5, cam-5 -> 1),
    # so that after the second worker joins each of the two owns some of them.
    cameras = ("cam-1", "cam-2", "cam-5")
    sensors = [cfg for camera_id in cameras for cfg in sensors_of(camera_id)]
    for cfg in sensors:
        p.produce(inputs.sensors, codec.encode(cfg), cfg.sensor_id.encode())
    p.flush()
    records = list(all_records(cameras))
    half = len(records) // 2
    settings = settings_for(stack, outputs_of(inputs, shared), f"g-{uuid.uuid4().hex[:8]}")
    workers = [Processor(settings, serde=serde), Processor(settings, serde=serde)]
    threads = [
        threading.Thread(target=w.run, kwargs={"exit_when_idle_s": 4.0}, daemon=True)
        for w in workers
    ]
    threads[0].start()
    publish_records(p, serde, inputs, records[:half])
    wait_for(
        lambda: workers[0].stats.consumed >= len(sensors) + half,
        60,
        "the first half",
        interval_s=0.05,
    )
    threads[1].start()  # joins the group: the first worker gives up partitions with their state
    wait_for(
        lambda: workers[0].partitions and workers[1].partitions,
        60,
        "both workers assigned",
        interval_s=0.05,
    )
    assert set(workers[0].partitions) | set(workers[1].partitions) == set(range(6))
    publish_records(p, serde, inputs, records[half:])
    # Each worker owns cameras of its own partitions (before they go idle and leave the group),
    # and the second one started from the state the first one had built (no camera restarted).
    wait_for(
        lambda: all(w.ownership.partition_of for w in workers),
        60,
        "ownership known",
        interval_s=0.05,
    )
    owned = [set(w.ownership.partition_of) for w in workers]
    assert not owned[0] & owned[1] and owned[0] | owned[1] == set(cameras)
    assert workers[1].stats.restored_cameras >= len(owned[1])
    for t in threads:
        t.join(120)
        assert not t.is_alive()

    reference = topic_set(stack, f"rebal-ref-{uuid.uuid4().hex[:8]}")
    run_inline(
        settings_for(stack, outputs_of(inputs, reference), f"g-{uuid.uuid4().hex[:8]}"), serde
    )
    for topic, record_type in (("alerts", Alert), ("sensor_events", SensorEvent)):
        got = by_camera(stack, serde, getattr(shared, topic), record_type)
        want = by_camera(stack, serde, getattr(reference, topic), record_type)
        assert set(got) == set(want) == set(cameras)
        for camera_id in cameras:
            # handed over, not restarted: no camera forgot its tracks or open alerts
            assert list(dict.fromkeys(got[camera_id])) == want[camera_id], camera_id


def test_false_positive_verdicts_on_the_feedback_topic_suppress_similar_boxes(
    registry: Any,
) -> None:
    stack = registry
    serde = Serde.for_registry(stack.endpoints)
    topics = topic_set(stack, f"fp-{uuid.uuid4().hex[:8]}")
    camera = "cam-fp"
    zone = SensorConfig(
        sensor_id="cam-fp-yard",
        camera_id=camera,
        kind=SensorKind.ZONE,
        points=(Point(0.2, 0.2), Point(0.8, 0.2), Point(0.8, 0.8), Point(0.2, 0.8)),
        updated_ts=T0,
    )
    statue = BBox(0.30, 0.40, 0.36, 0.60)  # the operator said: that is not a person
    walker = BBox(0.60, 0.40, 0.66, 0.60)
    verdict = Feedback(
        feedback_id=feedback_id("a-0", "op", T0),
        alert_id="00000000-0000-5000-8000-000000000000",
        camera_id=camera,
        sensor_id=zone.sensor_id,
        verdict=Verdict.FALSE_POSITIVE,
        operator="op",
        ts=T0,
        note=None,
        boxes=(statue,),
        label="person",
    )
    p = producer(stack)
    p.produce(topics.sensors, serde.encode(catalog.CONFIG_SENSORS, zone), zone.sensor_id.encode())
    p.produce(topics.feedback, serde.encode(catalog.FEEDBACK, verdict), camera.encode())
    det = serde.topic(catalog.DETECTIONS, Detections)
    for seq in range(10):
        ts = T0 + seq * 200_000
        objects = (
            DetectedObject(track_id=1, label="person", score=0.9, bbox=statue),
            DetectedObject(track_id=2, label="person", score=0.9, bbox=walker),
        )
        d = Detections(
            event_id=detections_event_id(camera, ts, seq),
            camera_id=camera,
            frame_ts=ts,
            seq=seq,
            model="m",
            objects=objects,
        )
        p.produce(topics.detections, det.encode(d), camera.encode())
    p.flush()
    worker = Processor(settings_for(stack, topics, f"g-{uuid.uuid4().hex[:8]}"), serde=serde)
    worker.run(exit_when_idle_s=2.5)
    events = by_camera(stack, serde, topics.sensor_events, SensorEvent)[camera]
    assert {e.track_id for e in events if e.kind is SensorEventKind.ZONE_ENTER} == {2}
    assert worker.engine.counters.learned_fp == 10
