"""The sink contract (after quixstreams' ``BatchingSink``): ``add`` buffers, ``flush`` writes.

A sink projects some topics into one store. The consume loop (``sinks.runner``) decodes each
message and calls ``add``; ``add`` maps it (``prepare``, pure) and buffers it per
topic-partition. From the checkpoint only, the loop calls ``flush(tp)``, which hands the
partition's batch to ``write`` and clears it whatever happens; the loop commits the offsets a
flush reports as done, after the dead letters are delivered.

What ``write`` raises decides what happens to the records:

- ``BatchDataError`` / ``RecordDataError``: the batch is bisected until the bad record is
  alone; it becomes a dead letter and the rest is written;
- ``StoreUnavailableError``: the flush stops; everything written so far is reported done, the
  rest is dropped from memory and the loop rewinds the partition to it and backs off.

Writes must be idempotent (keyed by the deterministic ids), because a batch written just before
a crash is written again after the restart.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from schemas.records import AvroRecord
from sinks.batching import Batch, BatchPolicy, Item, PartitionBuffer, SourceMessage, TopicPartition
from sinks.errors import BatchDataError, RecordDataError, StoreUnavailableError
from sinks.settings import SinkSettings

T = TypeVar("T")


@dataclass(slots=True)
class FlushResult(Generic[T]):
    """What one ``flush`` did to one partition's range."""

    tp: TopicPartition
    first_offset: int
    last_offset: int
    done_through: int | None = None  # last offset handled for good; None: nothing
    rows: int = 0
    written: int = 0  # items written
    skipped: int = 0  # items already in the store (written before a crash)
    dead: list[tuple[Item[T], Exception]] = field(default_factory=list)
    outage: StoreUnavailableError | None = None
    seconds: float = 0.0

    @property
    def commit_offset(self) -> int | None:
        """Offset to commit (the next one to read), None when nothing is done."""
        return None if self.done_through is None else self.done_through + 1

    @property
    def rewind_to(self) -> int:
        """First offset not done: where to re-read from after an outage."""
        return self.first_offset if self.done_through is None else self.done_through + 1


class Sink(ABC, Generic[T]):
    """One store's projection of some topics; ``T`` is what ``prepare`` makes of a record."""

    name: ClassVar[str]
    """Store name: consumer group suffix, CLI name, metrics label."""
    topics: ClassVar[tuple[str, ...]]
    """Topics this sink projects."""
    decodes: ClassVar[bool] = True
    """False: ``prepare`` gets the raw message only (record None)."""
    knows_offsets: bool = False
    """True when the store records source offsets (``resume_point``, ``stored_offsets``)."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self.policy = BatchPolicy(
            settings.batch_max_records, settings.batch_max_bytes, settings.batch_max_age_s
        )
        self._buffers: dict[TopicPartition, PartitionBuffer[T]] = {}
        self._resume: dict[TopicPartition, int | None] = {}
        self.topic_ids: dict[str, str] = {}
        """Incarnation of each assigned topic (``sinks.incarnation``), set by the runner on
        assignment: stores that key on offsets key on it too."""

    def incarnation_of(self, topic: str) -> str:
        """The incarnation of ``topic`` (UNKNOWN until the runner learnt it)."""
        return self.topic_ids.get(topic, "")

    # ---- what each store implements ------------------------------------------------------

    @abstractmethod
    def prepare(self, message: SourceMessage, record: AvroRecord | None) -> T | None:
        """Map one record to what ``write`` needs (pure); None: nothing to write.

        ``record`` is the decoded value, None for a tombstone (or when ``decodes`` is False).
        Raise ``RecordDataError`` for a record the store cannot hold.
        """

    @abstractmethod
    def open(self) -> None:
        """Connect and create or migrate the store's schema (idempotent)."""

    @abstractmethod
    def write(self, batch: Batch[T]) -> int:
        """Write one partition's batch idempotently; return the rows written."""

    @abstractmethod
    def drop(self) -> None:
        """Drop this sink's projection from the store (for a rebuild)."""

    def resume_point(self, tp: TopicPartition, from_offset: int) -> int | None:
        """The highest offset >= ``from_offset`` the store holds (None: none), if it knows.

        Asked once per assignment, with the first offset read, by sinks that set
        ``knows_offsets``; the others rely on idempotent writes alone.
        """
        return None

    def stored_offsets(self, tp: TopicPartition, first: int, last: int) -> set[int]:
        """Which offsets in first..last the store holds (asked only up to the resume point).

        Items at those offsets are not written again; the others are (a record that was
        dead-lettered, or that made no rows, is handled again).
        """
        return set()

    def cuts_batch(self, buf: PartitionBuffer[T], message: SourceMessage) -> bool:
        """True when ``message`` must not join the buffered batch (it is flushed first)."""
        return False

    def close(self) -> None:
        """Release connections."""

    # ---- the contract --------------------------------------------------------------------

    def add(self, message: SourceMessage, record: AvroRecord | None, now: float) -> None:
        """Prepare and buffer one message (RecordDataError: nothing is buffered)."""
        value = self.prepare(message, record)
        # Looked up by a plain tuple (equal to the TopicPartition key): once per message.
        buf = self._buffers.get((message.topic, message.partition))  # type: ignore[call-overload]
        if buf is None:
            buf = self._buffer(message, now)
        if value is None:
            buf.note(message.offset)
        else:
            buf.append(Item(message, value))

    def needs_flush_before(self, message: SourceMessage) -> bool:
        """True when the partition's batch is full or the sink cuts it before this message."""
        buf = self._buffers.get(message.tp)
        return buf is not None and (self.policy.full(buf) or self.cuts_batch(buf, message))

    def skip(self, message: SourceMessage, now: float) -> None:
        """Count a message as handled without buffering it (it was dead-lettered)."""
        self._buffer(message, now).note(message.offset)

    def _buffer(self, message: SourceMessage, now: float) -> PartitionBuffer[T]:
        tp = message.tp
        buf = self._buffers.get(tp)
        if buf is None:
            buf = self._buffers[tp] = PartitionBuffer(message.offset, message.offset, now)
        return buf

    def buffered(self) -> list[TopicPartition]:
        """Partitions with an unflushed range."""
        return list(self._buffers)

    def due(self, now: float) -> list[TopicPartition]:
        """Partitions whose batch should be written now."""
        return [tp for tp, buf in self._buffers.items() if self.policy.due(buf, now)]

    def next_due_in(self, now: float) -> float | None:
        """Seconds until some partition's batch is due; None when nothing is buffered."""
        if not self._buffers:
            return None
        return min(self.policy.next_due_in(buf, now) for buf in self._buffers.values())

    def discard(self, tps: Iterable[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Drop buffers (all, or of some partitions); returns the first offset of each range."""
        chosen = list(self._buffers) if tps is None else [tp for tp in tps if tp in self._buffers]
        return {tp: self._buffers.pop(tp).first_offset for tp in chosen}

    def assigned(self, tps: Iterable[TopicPartition]) -> None:
        """Partitions just assigned (their topic ids known): a hook for per-partition set-up."""

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Forget partitions (revoked or newly assigned): buffers and resume points."""
        tps = list(tps)
        self.discard(tps)
        for tp in tps:
            self._resume.pop(tp, None)

    def flush(self, tp: TopicPartition) -> FlushResult[T]:
        """Write the partition's batch; the buffer is cleared whatever happens."""
        buf = self._buffers.pop(tp, None)
        if buf is None:
            return FlushResult(tp, -1, -1)
        batch = buf.batch(tp)
        result: FlushResult[T] = FlushResult(tp, batch.first_offset, batch.last_offset)
        started = time.perf_counter()
        try:
            items = batch.items
            skip_through = self._resume_point(tp, batch.first_offset)
            if skip_through is not None and items and items[0].offset <= skip_through:
                last = min(items[-1].offset, skip_through)
                held = self.stored_offsets(tp, items[0].offset, last)
                kept = [i for i in items if i.offset > skip_through or i.offset not in held]
                result.skipped = len(items) - len(kept)
                items = kept
            if items:
                self._write_bisect(batch.sub(items), result)
            result.done_through = batch.last_offset
        except StoreUnavailableError as exc:
            result.outage = exc
        finally:
            result.seconds = time.perf_counter() - started
            if self.knows_offsets and result.done_through is not None:
                # A range read again (after an outage) asks the store what it holds now.
                known = self._resume.get(tp)
                self._resume[tp] = max(-1 if known is None else known, result.done_through)
        return result

    def _resume_point(self, tp: TopicPartition, from_offset: int) -> int | None:
        if not self.knows_offsets:
            return None
        if tp not in self._resume:
            self._resume[tp] = self.resume_point(tp, from_offset)
        return self._resume[tp]

    def _write_bisect(self, batch: Batch[T], result: FlushResult[T]) -> None:
        try:
            rows = self.write(batch)
        except (BatchDataError, RecordDataError) as exc:
            if len(batch.items) == 1:
                result.dead.append((batch.items[0], exc))
                result.done_through = batch.last_offset
                return
            left, right = batch.split()
            self._write_bisect(left, result)
            self._write_bisect(right, result)
            return
        result.rows += rows
        result.written += len(batch.items)
        result.done_through = batch.last_offset
