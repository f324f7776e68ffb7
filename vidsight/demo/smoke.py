"""The demo's first check: Avro events through the broker and the registry, read back.

It publishes FrameRef events for a fresh camera through the schema registry and reads them
back with a plain consumer, proving broker + registry + serde work together before the
pipeline runs (a failure here names the part that is broken, not a downstream symptom).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from schemas import catalog
from schemas.records import FrameRef
from schemas.records.ids import frame_event_id
from schemas.serde import Serde
from vidsight.demo.errors import DemoError
from vidsight.settings import Endpoints


@dataclass(frozen=True, slots=True)
class SmokeResult:
    """What the smoke produce/consume saw."""

    camera_id: str
    produced: int
    consumed: int
    schema_id: int
    round_trip_s: float


def smoke_produce_consume(
    endpoints: Endpoints, count: int = 20, timeout_s: float = 60
) -> SmokeResult:
    """Publish ``count`` FrameRef events for a new camera and read every one back, decoded."""
    camera_id = f"demo-smoke-{uuid.uuid4().hex[:8]}"
    serde = Serde.for_registry(endpoints)
    frames = serde.topic(catalog.FRAMES, FrameRef)
    start_us = int(time.time() * 1_000_000)
    records = [
        FrameRef(
            event_id=frame_event_id(camera_id, start_us + i * 200_000, i),
            camera_id=camera_id,
            frame_ts=start_us + i * 200_000,
            seq=i,
            width=1280,
            height=720,
            motion_score=0.0,
        )
        for i in range(count)
    ]
    started = time.monotonic()
    producer = Producer(endpoints.kafka_client_config(acks="all", **{"linger.ms": 5}))
    failures: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failures.append(err)

    for record, value in zip(records, frames.encode_many(records), strict=True):
        producer.produce(
            catalog.FRAMES, key=record.camera_id.encode(), value=value, on_delivery=on_delivery
        )
    if producer.flush(timeout_s) or failures:
        raise DemoError(f"smoke produce to {catalog.FRAMES} failed: {failures or 'timeout'}")

    consumer = Consumer(
        endpoints.kafka_client_config(
            **{
                "group.id": f"vidsight-demo-{camera_id}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
    )
    spec = catalog.topic(catalog.FRAMES)
    # Read from offset 0 and filter by the new camera: the local broker's end offsets cannot
    # be trusted (see DESIGN.md), so "seek to end before producing" is not an option.
    consumer.assign([TopicPartition(spec.name, p, 0) for p in range(spec.partitions)])
    seen: list[FrameRef] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < count and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() or msg.key() != camera_id.encode():
                    continue
                seen.append(
                    frames.decode(msg.value(), partition=msg.partition(), offset=msg.offset())
                )
    finally:
        consumer.close()
    if sorted(r.seq for r in seen) != list(range(count)):
        raise DemoError(f"smoke consume read {len(seen)} of {count} events for {camera_id}")
    return SmokeResult(camera_id, count, len(seen), frames.schema_id, time.monotonic() - started)
