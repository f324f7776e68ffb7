"""An in-memory Kafka for unit tests: topics as lists, clients that satisfy the runtime's
client protocols (``vidsight.kafka.clients``), and ``KafkaClients`` that hand them out.

It models what the runtime relies on and no more: partitions with offsets from 0, committed
offsets per group, a one-member group whose assignment is every partition of the subscribed
topics (announced through the ``on_assign``/``on_revoke`` callbacks as librdkafka does),
assign-mode readers, pause/resume/seek, and a producer whose records are in the log at once
and whose delivery reports come with the next ``poll``/``flush``. A consume with nothing to
read waits (on a condition, not a sleep) until a record arrives or its timeout ends.
"""

from __future__ import annotations

import itertools
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END
from confluent_kafka import TopicPartition as KafkaTopicPartition

from vidsight.kafka.clients import KafkaClients

_MAX_WAIT_S = 0.05
"""Longest wait of an empty consume (a test's idle exit comes a little after its limit)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record of the log."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    seq: int
    """Order of appends across every partition (consumers read in this order)."""


class Message:
    """A consumed record as ``confluent_kafka.Message`` shows it."""

    __slots__ = ("_r",)

    def __init__(self, record: Record) -> None:
        self._r = record

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._r.topic

    def partition(self) -> int:
        return self._r.partition

    def offset(self) -> int:
        return self._r.offset

    def key(self) -> bytes | None:
        return self._r.key

    def value(self) -> bytes | None:
        return self._r.value

    def timestamp(self) -> tuple[int, int]:
        return (1, self._r.seq)

    def headers(self) -> list[tuple[str, bytes | None]]:
        return list(self._r.headers)


@dataclass
class MemoryBroker:
    """Topics, committed offsets and the clients over them."""

    topics: dict[str, list[list[Record]]] = field(default_factory=dict)
    committed: dict[tuple[str, str, int], int] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def create(self, name: str, partitions: int) -> None:
        """A topic with ``partitions`` empty partitions (kept if it exists)."""
        self.topics.setdefault(name, [[] for _ in range(partitions)])

    def append(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        headers: Any = None,
    ) -> Record:
        """Write one record (to ``partition``, else to the key's partition); returns it."""
        parts = self.topics[topic]
        if partition is None or partition < 0:
            partition = zlib.crc32(key or b"") % len(parts)
        pairs = tuple((k, v.encode() if isinstance(v, str) else v) for k, v in headers or ())
        with self._cond:
            log = parts[partition]
            record = Record(topic, partition, len(log), key, value, pairs, next(self._seq))
            log.append(record)
            self._cond.notify_all()
        return record

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic, in append order."""
        return sorted((r for part in self.topics[topic] for r in part), key=lambda r: r.seq)

    def clients(
        self, *, consumer_wrap: Callable[[MemoryConsumer], Any] | None = None
    ) -> KafkaClients:
        """Clients of this broker (``consumer_wrap`` may wrap each consumer, e.g. to crash)."""

        def consumer(conf: dict[str, Any]) -> Any:
            c = MemoryConsumer(self, conf)
            return consumer_wrap(c) if consumer_wrap is not None else c

        return KafkaClients(
            consumer=consumer,
            producer=lambda conf: MemoryProducer(self),
            end_offsets=lambda conf, tps: {(t, p): len(self.topics[t][p]) for t, p in tps},
        )


class MemoryProducer:
    """Appends at once; delivery reports come with the next poll or flush."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self._reports: list[tuple[Callable[..., None], Message]] = []

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int = -1,
        on_delivery: Callable[..., None] | None = None,
        headers: Any = None,
        **_: Any,
    ) -> None:
        record = self.broker.append(topic, value, key, partition=partition, headers=headers)
        if on_delivery is not None:
            self._reports.append((on_delivery, Message(record)))

    def poll(self, timeout: float = -1) -> int:
        reports, self._reports = self._reports, []
        for report, message in reports:
            report(None, message)
        return len(reports)

    def flush(self, timeout: float = -1) -> int:
        self.poll(0)
        return 0


class MemoryConsumer:
    """A group member (``subscribe``) or a reader of chosen partitions (``assign``)."""

    def __init__(self, broker: MemoryBroker, conf: dict[str, Any]) -> None:
        self.broker = broker
        self.group = str(conf.get("group.id", ""))
        self.positions: dict[tuple[str, int], int] = {}
        self.paused: set[tuple[str, int]] = set()
        self.subscribed: list[str] = []
        self.callbacks: dict[str, Any] = {}
        self._joined = False
        self.closed = False

    # -- group membership ----------------------------------------------------------------

    def subscribe(
        self,
        topics: list[str],
        on_assign: Any = None,
        on_revoke: Any = None,
        on_lost: Any = None,
    ) -> None:
        self.subscribed = list(topics)
        self.callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}

    def _join(self) -> None:
        self._joined = True
        partitions = [
            KafkaTopicPartition(t, p)
            for t in self.subscribed
            for p in range(len(self.broker.topics[t]))
        ]
        before = dict(self.positions)
        if self.callbacks.get("assign") is not None:
            self.callbacks["assign"](self, partitions)
        if self.positions == before:  # the callback did not assign: the client does
            self.assign(partitions)

    def assign(self, partitions: list[KafkaTopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            if tp.offset >= 0:
                self.positions[key] = tp.offset
            elif tp.offset == OFFSET_BEGINNING:
                self.positions[key] = 0
            elif tp.offset == OFFSET_END:
                self.positions[key] = len(self.broker.topics[tp.topic][tp.partition])
            else:
                self.positions[key] = self.broker.committed.get((self.group, *key), 0)

    def incremental_assign(self, partitions: list[KafkaTopicPartition]) -> None:
        self.assign(partitions)

    # -- reading ---------------------------------------------------------------------------

    def _available(self) -> list[Record]:
        out = []
        for (topic, p), pos in self.positions.items():
            if (topic, p) in self.paused:
                continue
            out.extend(self.broker.topics[topic][p][pos:])
        return out

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        if self.subscribed and not self._joined:
            self._join()
        cond = self.broker._cond
        with cond:
            ready = self._available()
            if not ready and timeout != 0:
                cond.wait(min(_MAX_WAIT_S, timeout) if timeout > 0 else _MAX_WAIT_S)
                ready = self._available()
        taken = sorted(ready, key=lambda r: r.seq)[:num_messages]
        for r in taken:
            self.positions[(r.topic, r.partition)] = r.offset + 1
        return [Message(r) for r in taken]

    def commit(self, *, offsets: list[KafkaTopicPartition], asynchronous: bool = True) -> Any:
        for tp in offsets:
            self.broker.committed[(self.group, tp.topic, tp.partition)] = tp.offset
        return None if asynchronous else offsets

    def pause(self, partitions: list[KafkaTopicPartition]) -> None:
        self.paused.update((tp.topic, tp.partition) for tp in partitions)

    def resume(self, partitions: list[KafkaTopicPartition]) -> None:
        self.paused.difference_update((tp.topic, tp.partition) for tp in partitions)

    def seek(self, partition: KafkaTopicPartition) -> None:
        self.positions[(partition.topic, partition.partition)] = partition.offset

    def position(self, partitions: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]:
        return [
            KafkaTopicPartition(
                tp.topic, tp.partition, self.positions.get((tp.topic, tp.partition), -1001)
            )
            for tp in partitions
        ]

    def get_watermark_offsets(
        self, partition: KafkaTopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]:
        return 0, len(self.broker.topics[partition.topic][partition.partition])

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> SimpleNamespace:
        names = [topic] if topic is not None else list(self.broker.topics)
        return SimpleNamespace(
            topics={
                name: SimpleNamespace(
                    partitions=dict.fromkeys(range(len(self.broker.topics[name]))), error=None
                )
                for name in names
                if name in self.broker.topics
            }
        )

    def close(self) -> None:
        """Leave the group: the assignment is revoked through the callback, as librdkafka does."""
        if self._joined and self.callbacks.get("revoke") is not None and self.positions:
            revoked = [KafkaTopicPartition(t, p) for t, p in sorted(self.positions)]
            self.callbacks["revoke"](self, revoked)
        self.positions.clear()
        self.closed = True
