"""Pure batching: what a consumed message is, what a batch is, and when a batch is due.

Nothing here talks to Kafka or a store. A partition's *range* is every offset handled since
its last commit: buffered items plus offsets that produced nothing to write (dead-lettered
records, tombstones a store ignores). Committing ``range.last + 1`` after the write is what
makes progress durable, so the range, not just the items, is what a batch carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from vidsight.kafka.clients import TopicPartition

__all__ = ["Batch", "BatchPolicy", "Item", "PartitionBuffer", "SourceMessage", "TopicPartition"]

T = TypeVar("T")


class SourceMessage(NamedTuple):
    """One consumed Kafka message, as the sinks see it.

    A named tuple rather than a dataclass: one is made per consumed message, and a tuple is
    built in a third of the time.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def tp(self) -> TopicPartition:
        """The message's topic and partition."""
        return TopicPartition(self.topic, self.partition)

    @property
    def size(self) -> int:
        """Bytes of key and value: what the byte limit of a batch counts."""
        return len(self.value or b"") + len(self.key or b"")


class Item(NamedTuple, Generic[T]):
    """A prepared value waiting in a batch, with the message it came from (for the DLQ)."""

    message: SourceMessage
    value: T

    @property
    def offset(self) -> int:
        """Offset of the source message."""
        return self.message.offset


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """What ``write`` gets: items of one topic-partition, in offset order.

    ``first_offset``..``last_offset`` is the range the batch stands for (it may start before
    the first item and end after the last one when those offsets produced no item).
    """

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    items: Sequence[Item[T]]

    @property
    def tp(self) -> TopicPartition:
        """The batch's topic and partition."""
        return TopicPartition(self.topic, self.partition)

    def __len__(self) -> int:
        return len(self.items)

    def split(self) -> tuple[Batch[T], Batch[T]]:
        """Two halves by item count, each standing for exactly its items' offsets."""
        mid = len(self.items) // 2
        return self.sub(self.items[:mid]), self.sub(self.items[mid:])

    def sub(self, items: Sequence[Item[T]]) -> Batch[T]:
        """A batch of some of these items; its range is theirs."""
        if not items:
            raise ValueError("a batch needs at least one item")
        return Batch(self.topic, self.partition, items[0].offset, items[-1].offset, items)


@dataclass(slots=True)
class PartitionBuffer(Generic[T]):
    """The uncommitted range of one partition and the items buffered for it."""

    first_offset: int
    last_offset: int
    opened_at: float
    items: list[Item[T]] = field(default_factory=list)
    size: int = 0

    def note(self, offset: int) -> None:
        """Extend the range to an offset that was handled without an item."""
        self.last_offset = max(self.last_offset, offset)

    def append(self, item: Item[T]) -> None:
        """Buffer an item (and extend the range to it)."""
        self.items.append(item)
        m = item.message
        self.size += len(m.value or b"") + len(m.key or b"")
        self.last_offset = max(self.last_offset, m.offset)

    def batch(self, tp: TopicPartition) -> Batch[T]:
        """The buffer as a batch for ``write``."""
        return Batch(tp.topic, tp.partition, self.first_offset, self.last_offset, self.items)


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """When a partition's batch is written: by records, by bytes, or by age.

    The age check runs on every loop turn, not on arrival, so a partition that went quiet
    is still written (and committed) ``max_age_s`` after its first record.
    """

    max_records: int
    max_bytes: int
    max_age_s: float

    def __post_init__(self) -> None:
        if self.max_records < 1 or self.max_bytes < 1 or self.max_age_s <= 0:
            raise ValueError(f"batch limits must be positive: {self}")

    def full(self, buf: PartitionBuffer[Any]) -> bool:
        """True when the batch reached a size limit."""
        return len(buf.items) >= self.max_records or buf.size >= self.max_bytes

    def due(self, buf: PartitionBuffer[Any], now: float) -> bool:
        """True when the batch should be written now."""
        return self.full(buf) or now - buf.opened_at >= self.max_age_s

    def next_due_in(self, buf: PartitionBuffer[Any], now: float) -> float:
        """Seconds until the batch becomes due by age (0 when it already is)."""
        if self.full(buf):
            return 0.0
        return max(0.0, buf.opened_at + self.max_age_s - now)
