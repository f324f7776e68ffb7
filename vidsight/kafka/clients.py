"""The Kafka client surface: protocols, the client factory and the librdkafka configs.

Every consume loop takes its clients from a :class:`KafkaClients` (the real confluent-kafka
classes by default), so a loop runs in unit tests against an in-memory log: the protocols
below are the calls the runtime makes, nothing more.

The local broker's quirks (DESIGN.md, "Known broker limits") are worked around here, once:
no idempotent producers unless asked for (two at once fail with OutOfOrderSequenceNumber),
one request in flight (retries keep per-partition order without idempotence), heartbeats a
third of a (short) session timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol, overload

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes | None]] | list[tuple[str, str | bytes | None]]
RebalanceCallback = Callable[[Any, list[KafkaTopicPartition]], None]
DeliveryCallback = Callable[[KafkaError | None, Any], None]


class TopicPartition(NamedTuple):
    """A topic and partition (a plain tuple: hashable, cheap, no client object)."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


class MessageClient(Protocol):
    """A consumed message (``confluent_kafka.Message``)."""

    def error(self) -> KafkaError | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def headers(self) -> Any: ...


class ConsumerClient(Protocol):
    """The consumer calls the runtime makes (``confluent_kafka.Consumer``)."""

    def subscribe(
        self,
        topics: list[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
        on_lost: RebalanceCallback | None = None,
    ) -> None: ...
    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]: ...
    def assign(self, partitions: list[KafkaTopicPartition]) -> None: ...
    def incremental_assign(self, partitions: list[KafkaTopicPartition]) -> None: ...
    @overload
    def commit(
        self, *, offsets: list[KafkaTopicPartition], asynchronous: Literal[True] = ...
    ) -> None: ...
    @overload
    def commit(
        self, *, offsets: list[KafkaTopicPartition], asynchronous: Literal[False]
    ) -> list[KafkaTopicPartition]: ...
    def pause(self, partitions: list[KafkaTopicPartition]) -> None: ...
    def resume(self, partitions: list[KafkaTopicPartition]) -> None: ...
    def seek(self, partition: KafkaTopicPartition) -> None: ...
    def position(self, partitions: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]: ...
    def get_watermark_offsets(
        self, partition: KafkaTopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]: ...
    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...
    def close(self) -> None: ...


class ProducerClient(Protocol):
    """The producer calls the runtime makes (``confluent_kafka.Producer``)."""

    def produce(  # noqa: PLR0917 (the client's own signature)
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int = -1,
        callback: Any = None,
        on_delivery: Any = None,
        timestamp: int = 0,
        headers: Any = None,
    ) -> None: ...
    def poll(self, timeout: float = -1) -> int: ...
    def flush(self, timeout: float = -1) -> int: ...


ConsumerFactory = Callable[[dict[str, Any]], ConsumerClient]
ProducerFactory = Callable[[dict[str, Any]], ProducerClient]
EndOffsets = Callable[[Mapping[str, Any], Sequence[tuple[str, int]]], dict[tuple[str, int], int]]


def admin_end_offsets(
    kafka_config: Mapping[str, Any], partitions: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The reported end offset of each partition, in one admin request (0 where the broker did
    not answer: the end is then found by reading until quiet)."""
    from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

    if not partitions:
        return {}
    conf: dict[str, Any] = {**kafka_config, "logger": logging.getLogger("rdkafka.admin")}
    admin = AdminClient(conf)  # referenced until the results are in: if collected, they never are
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    futures = admin.list_offsets(
        {KafkaTopicPartition(t, p): latest for t, p in partitions}, request_timeout=10.0
    )
    ends = {}
    for tp, future in futures.items():
        try:
            ends[(tp.topic, tp.partition)] = int(future.result().offset)
        except Exception as exc:  # a hint only: read on until quiet without it
            log.warning("no end offset topic=%s partition=%d: %s", tp.topic, tp.partition, exc)
            ends[(tp.topic, tp.partition)] = 0
    return ends


def _real_consumer(config: dict[str, Any]) -> ConsumerClient:
    from confluent_kafka import Consumer

    return Consumer(config)


def _real_producer(config: dict[str, Any]) -> ProducerClient:
    from confluent_kafka import Producer

    return Producer(config)


@dataclass(frozen=True, slots=True)
class KafkaClients:
    """Where a process gets its Kafka clients: the real ones, or an in-memory log in tests."""

    consumer: ConsumerFactory = _real_consumer
    producer: ProducerFactory = _real_producer
    end_offsets: EndOffsets = admin_end_offsets


REAL_CLIENTS = KafkaClients()


def consumer_config(
    base: Mapping[str, Any],
    *,
    group_id: str,
    session_timeout_ms: int,
    fetch_wait_max_ms: int,
    logger: str,
    assignment_strategy: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka config of a runtime consumer: offsets committed by hand, from the earliest.

    ``base`` is the deployment's client config (``Endpoints.kafka_client_config()``: bootstrap
    servers and the security pass-through); ``overrides`` (a process's own consumer options)
    win over everything.
    """
    conf = dict(base)
    conf.update(
        {
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_timeout_ms,
            # A third of the session: the local broker needs short sessions (JoinGroup waits
            # about half of one), and a member must heartbeat a few times per session.
            "heartbeat.interval.ms": max(100, min(3000, session_timeout_ms // 3)),
            "fetch.wait.max.ms": fetch_wait_max_ms,
            "enable.partition.eof": False,
            "logger": logging.getLogger(logger),
        }
    )
    if assignment_strategy is not None:
        conf["partition.assignment.strategy"] = assignment_strategy
    conf.update(overrides or {})
    return conf


def producer_config(
    base: Mapping[str, Any],
    *,
    logger: str,
    idempotent: bool | None = None,
    linger_ms: float | None = None,
    partitioner: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka config of a runtime producer: acks=all, in order.

    Idempotent producers fail with OutOfOrderSequenceNumber on the local broker when two run
    at once; one request in flight keeps per-partition order through retries instead (a retry
    may then duplicate a record: an identical re-emission that idempotent consumers absorb).
    ``idempotent`` None leaves the choice to ``base`` (the deployment's pass-through) with
    those safe settings as defaults; True/False decides.
    """
    safe: dict[str, Any] = {
        "acks": "all",
        "enable.idempotence": False,
        "max.in.flight.requests.per.connection": 1,
    }
    conf = dict(base)
    if idempotent is None:
        for key, value in safe.items():
            conf.setdefault(key, value)
        conf.setdefault("logger", logging.getLogger(logger))
    else:
        conf.update(safe)
        conf["enable.idempotence"] = idempotent
        conf["logger"] = logging.getLogger(logger)
    if linger_ms is not None:
        conf["linger.ms"] = linger_ms
    if partitioner is not None:
        conf["partitioner"] = partitioner
    conf.update(overrides or {})
    return conf


def is_cooperative(config: Mapping[str, Any]) -> bool:
    """Whether a consumer config asks for incremental (cooperative) rebalancing."""
    return "cooperative" in str(config.get("partition.assignment.strategy", ""))


def kafka_tps(tps: Iterable[TopicPartition]) -> list[KafkaTopicPartition]:
    """The client's TopicPartition objects of some partitions."""
    return [KafkaTopicPartition(tp.topic, tp.partition) for tp in tps]


def headers_of(raw: Any) -> tuple[tuple[str, bytes | None], ...]:
    """Message headers as (name, bytes) pairs, whatever shape the client returned."""
    if not raw:
        return ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((k, v.encode() if isinstance(v, str) else v) for k, v in pairs)


def approximate_lag(
    consumer: ConsumerClient, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Reported high watermark minus position, per partition with both known.

    Approximate by nature: brokers do not all report the high watermark correctly (the local
    broker under-reports it after multi-record produce batches).
    """
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


def partitions_of(consumer: ConsumerClient, topic: str, timeout_s: float = 10.0) -> list[int]:
    """Partition numbers of a topic; TopicMissingError when it does not exist."""
    from vidsight.kafka.errors import TopicMissingError

    meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise TopicMissingError(
            f"topic {topic} does not exist: run `vidsight topics create` (or create it)"
        )
    return sorted(meta.partitions)
