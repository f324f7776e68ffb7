"""The processor's Kafka configs, built by the core runtime (``vidsight.kafka``) from its settings.

The generic pieces the processor's tools also use (``AckingProducer``, the assign-all readers,
reading to the end, end offsets) live in the core; they are named here for those tools.
"""

from __future__ import annotations

from typing import Any

from stream_processors.runtime.settings import ProcessorSettings
from vidsight.kafka import clients
from vidsight.kafka.clients import admin_end_offsets as end_offsets
from vidsight.kafka.clients import partitions_of
from vidsight.kafka.producer import AckingProducer
from vidsight.kafka.reading import (
    FIRST_OFFSET,
    RECENT_LOOKBACK,
    assign_from_beginning,
    assign_recent,
    read_to_end,
)

__all__ = [
    "FIRST_OFFSET",
    "PARTITIONER",
    "RECENT_LOOKBACK",
    "AckingProducer",
    "assign_from_beginning",
    "assign_recent",
    "consumer_config",
    "end_offsets",
    "partitions_of",
    "producer_config",
    "read_to_end",
]

PARTITIONER = "murmur2_random"
"""The Java clients' partitioner, as the edge uses: one camera lands on the same partition
whichever client produced it."""


def consumer_config(settings: ProcessorSettings, **overrides: Any) -> dict[str, Any]:
    """librdkafka config of a consumer of this worker (no auto commit, short fetch waits)."""
    return clients.consumer_config(
        settings.kafka_client_config(),
        group_id=settings.group_id,
        session_timeout_ms=settings.session_timeout_ms,
        fetch_wait_max_ms=settings.fetch_wait_max_ms,
        logger="rdkafka.processor",
        # Range assignment gives partition p of every subscribed topic to the same member:
        # detections p and frames p (co-partitioned by camera) meet in one worker.
        assignment_strategy="range",
        overrides={**settings.consumer_config, **overrides},
    )


def producer_config(settings: ProcessorSettings) -> dict[str, Any]:
    """librdkafka config of the worker's producer (acks=all, in order, small linger)."""
    return clients.producer_config(
        settings.kafka_client_config(),
        logger="rdkafka.processor",
        idempotent=settings.idempotent_producer,
        linger_ms=settings.linger_ms,
        partitioner=PARTITIONER,
        overrides=settings.producer_config,
    )
