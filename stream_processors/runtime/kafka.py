"""Kafka client plumbing of the runtime: client configs, an acknowledging producer, and
reading partitions to their end on a broker whose end offsets cannot be trusted.

The local broker reports wrong high watermarks after multi-record produce batches (DESIGN.md),
so "the end" is found two ways: on partitions the runtime may write to (its changelog) by
producing a marker record and reading until that marker comes back; on topics other tools
own (sensors, feedback) by reading past the reported end until a fetch comes back empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from stream_processors.runtime.errors import DeliveryError, TopicMissingError
from stream_processors.runtime.settings import ProcessorSettings

log = logging.getLogger(__name__)

PARTITIONER = "murmur2_random"
"""The Java clients' partitioner, as the edge uses: one camera lands on the same partition
whichever client produced it."""


def consumer_config(settings: ProcessorSettings, **overrides: Any) -> dict[str, Any]:
    """librdkafka config of a consumer of this worker (no auto commit, short fetch waits)."""
    session = settings.session_timeout_ms
    conf = settings.kafka_client_config(
        **{
            "group.id": settings.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session,
            "heartbeat.interval.ms": max(100, min(3000, session // 3)),
            "fetch.wait.max.ms": settings.fetch_wait_max_ms,
            # Range assignment gives partition p of every subscribed topic to the same member:
            # detections p and frames p (co-partitioned by camera) meet in one worker.
            "partition.assignment.strategy": "range",
            "enable.partition.eof": False,
            "logger": logging.getLogger("rdkafka.processor"),
        }
    )
    conf.update(settings.consumer_config)
    conf.update(overrides)
    return conf


def producer_config(settings: ProcessorSettings) -> dict[str, Any]:
    """librdkafka config of the worker's producer (acks=all, in order, small linger)."""
    conf = settings.kafka_client_config(
        **{
            "acks": "all",
            "enable.idempotence": settings.idempotent_producer,
            # One request in flight keeps per-partition order through retries without
            # idempotence; a retry may then duplicate a record, which is an identical
            # re-emission the sinks absorb (deterministic ids).
            "max.in.flight.requests.per.connection": 1,
            "linger.ms": settings.linger_ms,
            "partitioner": PARTITIONER,
            "logger": logging.getLogger("rdkafka.processor"),
        }
    )
    conf.update(settings.producer_config)
    return conf


class AckingProducer:
    """A producer that knows which of its records the broker has acknowledged.

    Records are counted in epochs: ``mark()`` closes the current epoch and returns its number,
    ``acknowledged(epoch)`` says without waiting whether every record of that epoch and of the
    ones before it was acknowledged, and ``flush`` waits for everything. A failed delivery
    makes both raise :class:`DeliveryError`: nothing produced after it may be relied on.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._producer = Producer(config)
        self._failed: list[str] = []
        self._epoch = 0
        self._open: dict[int, int] = {}  # epoch -> records not acknowledged yet (> 0)
        self._on_delivery = partial(self._delivered, 0)
        self.produced = 0

    def _delivered(self, epoch: int, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._failed.append(f"{msg.topic()}[{msg.partition()}]: {err}")
        left = self._open[epoch] - 1
        if left:
            self._open[epoch] = left
        else:
            del self._open[epoch]

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        *,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue one record (waits for room when the client's queue is full)."""
        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": self._on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        if headers is not None:
            kwargs["headers"] = headers
        while True:
            try:
                self._producer.produce(topic, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)
        # Counted after the client took it: its report can only come from a later poll.
        epoch = self._epoch
        self._open[epoch] = self._open.get(epoch, 0) + 1
        self.produced += 1

    def poll(self) -> None:
        """Serve delivery reports without waiting."""
        self._producer.poll(0)

    def mark(self) -> int:
        """Close the current epoch; returns its number."""
        epoch = self._epoch
        self._epoch += 1
        self._on_delivery = partial(self._delivered, self._epoch)
        return epoch

    def acknowledged(self, epoch: int) -> bool:
        """Whether every record of ``epoch`` and earlier epochs was acknowledged."""
        self._raise_failures()
        return not self._open or min(self._open) > epoch

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until everything queued is acknowledged; DeliveryError otherwise."""
        left = self._producer.flush(timeout_s)
        if left:
            self._failed.append(f"{left} records not acknowledged in {timeout_s}s")
        self._raise_failures()

    def _raise_failures(self) -> None:
        if self._failed:
            failed, self._failed = self._failed, []
            detail = "; ".join(failed[:5])
            raise DeliveryError(f"the broker did not acknowledge produced records: {detail}")


def partitions_of(consumer: Consumer, topic: str, timeout_s: float = 10.0) -> list[int]:
    """Partition numbers of a topic; TopicMissingError when it does not exist."""
    meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise TopicMissingError(
            f"topic {topic} does not exist: run `vidsight topics create` (or create it)"
        )
    return sorted(meta.partitions)


FIRST_OFFSET = 0
"""Where a read "from the beginning" starts: offset 0 itself rather than OFFSET_BEGINNING,
which asks the broker for its log start, and the local broker's answer is not always right
(it has reported the end). Where retention removed offset 0, the fetch is out of range and
``auto.offset.reset=earliest`` moves it to the real start."""


def assign_from_beginning(consumer: Consumer, topics: Iterable[str]) -> list[tuple[str, int]]:
    """Assign every partition of the topics (no group), starting at the first offset."""
    tps = [(t, p) for t in topics for p in partitions_of(consumer, t)]
    consumer.assign([KafkaTopicPartition(t, p, FIRST_OFFSET) for t, p in tps])
    return tps


RECENT_LOOKBACK = 1000
"""Records per partition a "new records only" reader starts before the reported end."""


def assign_recent(
    consumer: Consumer, topics: Iterable[str], lookback: int = RECENT_LOOKBACK
) -> list[tuple[str, int]]:
    """Assign every partition (no group) a little before its reported end.

    For readers that want only what is written from now on (a tail, a live page), which must
    also skip records stamped before they started: the local broker's reported end offset can
    be off after multi-record batches, too low (old records show: the caller's timestamp
    filter drops them) or too high (new records would be skipped: the lookback covers them).
    Starting at the end itself (OFFSET_END) would trust it.
    """
    tps = [(t, p) for t in topics for p in partitions_of(consumer, t)]
    assignment = []
    for topic, partition in tps:
        tp = KafkaTopicPartition(topic, partition)
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
        except KafkaException as exc:
            log.warning("no watermarks topic=%s partition=%d: %s", topic, partition, exc)
            low, high = -1, -1
        start = max(low, high - lookback, 0) if high >= 0 else OFFSET_END
        assignment.append(KafkaTopicPartition(topic, partition, start))
    consumer.assign(assignment)
    return tps


def end_offsets(
    kafka_config: Mapping[str, Any], partitions: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The reported end offset of each partition, in one request (0 where the broker did not
    answer: the end is then found by reading until quiet)."""
    if not partitions:
        return {}
    conf: dict[str, Any] = {**kafka_config, "logger": logging.getLogger("rdkafka.processor")}
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


def read_to_end(
    consumer: Consumer,
    ends: Mapping[tuple[str, int], int],
    handle: Callable[[Message], None],
    *,
    settle_s: float,
    timeout_s: float,
    batch: int = 1000,
) -> bool:
    """Feed ``handle`` every record of the assigned partitions up to their end.

    The end is reached when every partition's position is at least its reported end offset
    (``ends``, from :func:`end_offsets`; empty: none known) and a consume waiting ``settle_s``
    returns nothing, since the reported end may be too low. A fetch that finds data returns
    at once, so only the final, empty one waits. Returns False when ``timeout_s`` ran out
    first (the caller carries on with what it read: a reported end may also be too high).
    """
    positions = dict.fromkeys(ends, -1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reached = all(positions[tp] >= end for tp, end in ends.items() if end > 0)
        msgs = consumer.consume(batch, settle_s if reached else min(settle_s, 0.1))
        for msg in msgs:
            if msg.error() is not None:
                log.warning("consume error topic=%s: %s", msg.topic(), msg.error())
                continue
            positions[(msg.topic() or "", msg.partition() or 0)] = (msg.offset() or 0) + 1
            handle(msg)
        if not msgs and reached:
            return True
    return False
