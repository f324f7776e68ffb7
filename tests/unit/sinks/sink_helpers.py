"""Test doubles of the sink tests: a store in memory, a Kafka log with a consumer over it.

``MemorySink`` is a real ``Sink`` (the base class under test) writing into a dict keyed by the
record's id, so an idempotent store; it can be told to be down or to reject a value.
``FakeConsumer`` serves a partitioned in-memory log with the calls the runner makes
(subscribe with rebalance callbacks, consume, commit, pause/resume/seek, position, close).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from confluent_kafka import OFFSET_BEGINNING
from confluent_kafka import TopicPartition as KafkaTopicPartition

from schemas.records import AvroRecord
from sinks.base import Sink
from sinks.batching import Batch, SourceMessage, TopicPartition
from sinks.errors import BatchDataError, RecordDataError, StoreUnavailableError
from sinks.metrics import SinkMetrics
from sinks.runner import RunOptions, SinkRunner
from sinks.settings import SinkSettings

TOPIC = "vidsight.feedback"  # any catalog topic; MemorySink does not decode


def settings(**overrides: Any) -> SinkSettings:
    values: dict[str, Any] = {
        "batch_max_records": 5,
        "batch_max_age_s": 0.05,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
    }
    values.update(overrides)
    return SinkSettings(**values)


def msg(
    offset: int, value: bytes | None = None, *, partition: int = 0, ts: int = 0
) -> SourceMessage:
    data = value if value is not None else f"v{offset}".encode()
    return SourceMessage(TOPIC, partition, offset, b"cam", data, ts)


class MemorySink(Sink[str]):
    """Values are the message bytes as text; ``poison`` values are rejected by the store."""

    name = "memory"
    topics = (TOPIC,)
    decodes = False

    def __init__(self, s: SinkSettings | None = None) -> None:
        super().__init__(s or settings())
        self.rows: dict[str, int] = {}  # value -> times written
        self.batches: list[tuple[int, int, int]] = []  # (partition, first, last)
        self.down_writes = 0  # the next N writes find the store down
        self.poison: set[str] = set()
        self.bad_prepare: set[str] = set()
        self.resume_asks: list[tuple[TopicPartition, int]] = []
        self.written_offsets: dict[int, set[int]] = {}
        self.opened = 0

    def prepare(self, message: SourceMessage, record: AvroRecord | None) -> str | None:
        text = (message.value or b"").decode()
        if text in self.bad_prepare:
            raise RecordDataError(f"cannot map {text}")
        return None if text == "nothing" else text

    def open(self) -> None:
        self.opened += 1

    def drop(self) -> None:
        self.rows.clear()

    def resume_point(self, tp: TopicPartition, from_offset: int) -> int | None:
        self.resume_asks.append((tp, from_offset))
        held = [o for o in self.written_offsets.get(tp.partition, ()) if o >= from_offset]
        return max(held) if held else None

    def stored_offsets(self, tp: TopicPartition, first: int, last: int) -> set[int]:
        held = self.written_offsets.get(tp.partition, set())
        return {o for o in held if first <= o <= last}

    def write(self, batch: Batch[str]) -> int:
        if self.down_writes:
            self.down_writes -= 1
            raise StoreUnavailableError("memory", "down", retry_after=None)
        values = [i.value for i in batch.items]
        if self.poison.intersection(values):
            raise BatchDataError("poison in batch")
        for v in values:
            self.rows[v] = self.rows.get(v, 0) + 1
        self.written_offsets.setdefault(batch.partition, set()).update(
            i.offset for i in batch.items
        )
        self.batches.append((batch.partition, batch.first_offset, batch.last_offset))
        return len(values)


class FakeMessage:
    def __init__(self, m: SourceMessage) -> None:
        self._m = m

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._m.topic

    def partition(self) -> int:
        return self._m.partition

    def offset(self) -> int:
        return self._m.offset

    def key(self) -> bytes | None:
        return self._m.key

    def value(self) -> bytes | None:
        return self._m.value

    def timestamp(self) -> tuple[int, int]:
        return (1, self._m.timestamp_ms)

    def headers(self) -> list[tuple[str, bytes | None]]:
        return list(self._m.headers)


@dataclass
class FakeLog:
    """Partitions of one topic as lists of messages, plus the group's committed offsets."""

    partitions: dict[int, list[SourceMessage]] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)

    def append(self, partition: int, values: Iterable[bytes]) -> None:
        part = self.partitions.setdefault(partition, [])
        for v in values:
            part.append(SourceMessage(TOPIC, partition, len(part), b"cam", v, 1000))


class FakeConsumer:
    """Consumes a FakeLog; rebalance = assign everything on the first consume."""

    def __init__(self, log: FakeLog, *, per_call: int = 3) -> None:
        self.log = log
        self.per_call = per_call
        self.position_: dict[int, int] = {}
        self.paused: set[int] = set()
        self.assigned = False
        self.on_assign: Callable[..., None] | None = None
        self.commits: list[dict[int, int]] = []
        self.closed = False

    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None,
                  on_lost: Any = None) -> None:  # fmt: skip
        self.on_assign = on_assign

    def assign(self, partitions: list[KafkaTopicPartition]) -> None:
        for p in partitions:
            if p.offset == OFFSET_BEGINNING:
                self.position_[p.partition] = 0
            else:
                self.position_[p.partition] = self.log.committed.get(p.partition, 0)

    def incremental_assign(self, partitions: list[KafkaTopicPartition]) -> None:
        self.assign(partitions)

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        if not self.assigned:
            self.assigned = True
            parts = [KafkaTopicPartition(TOPIC, p) for p in sorted(self.log.partitions)]
            assert self.on_assign is not None
            self.on_assign(self, parts)
            return []
        out: list[FakeMessage] = []
        for p, messages in sorted(self.log.partitions.items()):
            if p in self.paused:
                continue
            pos = self.position_.get(p, 0)
            take = messages[pos : pos + self.per_call]
            self.position_[p] = pos + len(take)
            out.extend(FakeMessage(m) for m in take)
        return out[:num_messages]

    def commit(self, offsets: list[KafkaTopicPartition], asynchronous: bool) -> None:
        self.commits.append({o.partition: o.offset for o in offsets})
        for o in offsets:
            self.log.committed[o.partition] = o.offset

    def pause(self, partitions: list[KafkaTopicPartition]) -> None:
        self.paused.update(p.partition for p in partitions)

    def resume(self, partitions: list[KafkaTopicPartition]) -> None:
        self.paused.difference_update(p.partition for p in partitions)

    def seek(self, partition: KafkaTopicPartition) -> None:
        self.position_[partition.partition] = partition.offset

    def position(self, partitions: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]:
        return [KafkaTopicPartition(p.topic, p.partition, self.position_.get(p.partition, 0))
                for p in partitions]  # fmt: skip

    def get_watermark_offsets(
        self, partition: KafkaTopicPartition, cached: bool
    ) -> tuple[int, int]:
        return 0, len(self.log.partitions.get(partition.partition, []))

    def list_topics(self, timeout: float = -1) -> SimpleNamespace:
        partitions = dict.fromkeys(self.log.partitions)
        return SimpleNamespace(topics={TOPIC: SimpleNamespace(partitions=partitions, error=None)})

    def close(self) -> None:
        self.closed = True


@dataclass
class DeadLetterList:
    sent: list[tuple[SourceMessage, BaseException]] = field(default_factory=list)
    fail_flushes: int = 0

    def send(self, message: SourceMessage, error: BaseException) -> None:
        self.sent.append((message, error))

    def flush(self, timeout_s: float = 30.0) -> None:
        if self.fail_flushes:
            self.fail_flushes -= 1
            raise StoreUnavailableError("kafka", "dlq not acknowledged")


TOPIC_ID = "0123456789abcdef0123456789abcdef"


def fake_topic_ids(topics: Sequence[str]) -> dict[str, str]:
    """What the broker would say of the topics' incarnations (one id for all here)."""
    return dict.fromkeys(topics, TOPIC_ID)


def runner_for(
    sink: MemorySink,
    consumer: FakeConsumer,
    options: RunOptions,
    *,
    stop: threading.Event | None = None,
    dead: DeadLetterList | None = None,
    topic_ids: Callable[[Sequence[str]], dict[str, str]] = fake_topic_ids,
) -> SinkRunner:
    """A runner of ``sink`` on the fake consumer (nothing decoded: MemorySink takes bytes)."""
    return SinkRunner(
        sink,
        sink.settings,
        serde=None,  # type: ignore[arg-type]  # MemorySink does not decode
        metrics=SinkMetrics(),
        stop=stop if stop is not None else threading.Event(),
        options=options,
        consumer_factory=lambda conf: consumer,  # type: ignore[arg-type,return-value]
        dead_letters=dead if dead is not None else DeadLetterList(),
        topic_ids=topic_ids,
    )


def run(
    sink: MemorySink,
    log: FakeLog,
    *,
    idle_s: float = 0.3,
    dlq: DeadLetterList | None = None,
    from_beginning: bool = False,
    per_call: int = 3,
) -> tuple[SinkRunner, FakeConsumer, DeadLetterList]:
    """Run a sink over a log until idle; returns the runner, its consumer and dead letters."""
    consumer = FakeConsumer(log, per_call=per_call)
    dead = dlq or DeadLetterList()
    options = RunOptions(exit_when_idle_s=idle_s, from_beginning=from_beginning)
    runner = runner_for(sink, consumer, options, dead=dead)
    runner.run()
    return runner, consumer, dead
