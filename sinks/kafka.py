"""The Kafka side of the sinks: group ids, consumer settings, messages and lag.

Lag is approximate by nature here: it is the high watermark the broker reports minus the
consumer's position, and brokers do not all report the high watermark correctly (the local
Tansu broker under-reports it after multi-record produce batches).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from sinks.batching import SourceMessage, TopicPartition
from sinks.settings import SinkSettings


def group_id(settings: SinkSettings, sink_name: str) -> str:
    """The consumer group of a store."""
    return f"{settings.group_prefix}-{sink_name}"


def consumer_config(settings: SinkSettings, sink_name: str) -> dict[str, Any]:
    """librdkafka consumer config of a store's sink (offsets committed by hand)."""
    session = settings.session_timeout_ms
    conf = settings.kafka_client_config(
        **{
            "group.id": group_id(settings, sink_name),
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session,
            "heartbeat.interval.ms": max(100, min(3000, session // 3)),
            "fetch.wait.max.ms": settings.fetch_wait_max_ms,
            "enable.partition.eof": False,
            "logger": logging.getLogger(f"rdkafka.sink.{sink_name}"),
        }
    )
    conf.update(settings.consumer_config)
    return conf


def headers(raw: Any) -> tuple[tuple[str, bytes | None], ...]:
    """Message headers as (name, bytes) pairs, whatever shape the client returned."""
    if not raw:
        return ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((k, v.encode() if isinstance(v, str) else v) for k, v in pairs)


def source_message(message: Message, topic: str, partition: int, offset: int) -> SourceMessage:
    """The sinks' view of a consumed message."""
    _, ts = message.timestamp()
    return SourceMessage(
        topic, partition, offset, message.key(), message.value(), ts, headers(message.headers())
    )


def kafka_tps(tps: Iterable[TopicPartition]) -> list[KafkaTopicPartition]:
    """The client's TopicPartition objects of some partitions."""
    return [KafkaTopicPartition(tp.topic, tp.partition) for tp in tps]


def approximate_lag(consumer: Consumer, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """Reported high watermark minus position, per partition with both known."""
    try:
        positions = consumer.position(kafka_tps(tps))
    except KafkaException:
        return {}
    out: dict[TopicPartition, int] = {}
    for p in positions:
        if p.offset < 0:
            continue
        try:
            _, high = consumer.get_watermark_offsets(p, cached=True)
        except KafkaException:
            continue
        if high >= 0:
            out[TopicPartition(p.topic, p.partition)] = max(0, high - p.offset)
    return out
