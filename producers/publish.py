"""Publish camera definitions to the compacted vidsight.config.cameras topic."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from confluent_kafka import KafkaError, Message, Producer

from producers.errors import EdgeError
from schemas import catalog
from schemas.records import CameraConfig
from schemas.serde import Serde
from vidsight.settings import Endpoints


def publish_camera_configs(
    endpoints: Endpoints,
    records: Sequence[CameraConfig],
    timeout_s: float = 30.0,
    *,
    deletes: Sequence[str] = (),
) -> None:
    """Produce each record keyed by camera id (acks=all) and wait for every delivery.

    ``deletes`` are camera ids to delete: a tombstone (null value) each, after the records.
    """
    serde = Serde.for_registry(endpoints)
    codec = serde.topic(catalog.CONFIG_CAMERAS, CameraConfig)
    producer = Producer(
        endpoints.kafka_client_config(
            acks="all",
            **{
                "max.in.flight.requests.per.connection": 1,
                "logger": logging.getLogger("rdkafka.cameras"),
            },
        )
    )
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(f"{msg.key()!r}: {err}")

    for record in records:
        producer.produce(
            catalog.CONFIG_CAMERAS,
            key=record.camera_id.encode(),
            value=codec.encode(record),
            on_delivery=on_delivery,
        )
    for camera_id in deletes:
        producer.produce(
            catalog.CONFIG_CAMERAS, key=camera_id.encode(), value=None, on_delivery=on_delivery
        )
    left = producer.flush(timeout_s)
    if left or failures:
        raise EdgeError(
            f"publishing camera configs to {catalog.CONFIG_CAMERAS} at "
            f"{endpoints.kafka_bootstrap} failed: {failures or f'{left} not delivered in time'}"
        )
