"""A sink's checkpoint: flush partitions, deliver their dead letters, commit what is done; and
the outage that follows a failed one (drop every buffer, rewind, back off).

Offsets are committed only for ranges a flush reports done and only after their dead letters
were acknowledged; a store outage never skips a record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from sinks.base import FlushResult, Sink
from sinks.batching import SourceMessage, TopicPartition
from sinks.errors import StoreUnavailableError
from sinks.metrics import SinkMetrics
from vidsight.kafka.loop import ConsumeLoop, LoopStats

log = logging.getLogger(__name__)


class DeadLetters(Protocol):
    """Where dead letters go (``sinks.dlq.SinkDeadLetters``; a list in tests)."""

    def send(self, message: SourceMessage, error: BaseException) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


class SinkStats(Protocol):
    """The totals a checkpoint adds to (``sinks.runner.RunStats``)."""

    consumed: int
    dead_letters: int
    written: int
    rows: int
    skipped: int
    outages: int


class Checkpoints:
    """Checkpoints and outages of one sink's run."""

    def __init__(
        self,
        sink: Sink[Any],
        metrics: SinkMetrics,
        stats: SinkStats | LoopStats,
        dead_letters: DeadLetters,
    ) -> None:
        self.sink = sink
        self.metrics = metrics
        self.stats: Any = stats
        self.dlq = dead_letters
        self._label = sink.name

    def dead_letter(self, message: SourceMessage, exc: Exception) -> None:
        """Queue the dead letter of a record (delivered by the next checkpoint)."""
        self.dlq.send(message, exc)
        self.stats.dead_letters += 1
        self.metrics.dead_letters.labels(self._label, message.topic).inc()
        self.metrics.records.labels(self._label, message.topic, "dead_lettered").inc()

    def run(
        self, loop: ConsumeLoop, tps: Iterable[TopicPartition], now: float, *, final: bool = False
    ) -> None:
        """Flush the partitions, deliver dead letters, then commit what is done."""
        results: list[FlushResult[Any]] = []
        for tp in tps:
            result = self.sink.flush(tp)
            if result.first_offset < 0:
                continue
            results.append(result)
            self._account(result)
            if result.outage is not None:
                break
        for result in results:
            for item, exc in result.dead:
                self.dead_letter(item.message, exc)
        try:
            self.dlq.flush()
        except StoreUnavailableError as exc:
            # Nothing of this checkpoint is committed: read it all again (writes are idempotent).
            # Nor may any other partition commit past a dead letter queued since the last good
            # flush (the producer forgets failed letters once it reported them), so the outage
            # drops and rewinds every buffer, at the final checkpoint of a revoke too: the
            # partitions kept are read again and their dead letters sent again.
            for result in results:
                loop.next_offsets[result.tp] = result.first_offset
            self.outage(loop, exc, now)
            return
        self._commit(
            loop, [(r.tp, r.commit_offset) for r in results if r.commit_offset is not None]
        )
        failed = results[-1] if results and results[-1].outage is not None else None
        if failed is not None and failed.outage is not None:
            loop.next_offsets[failed.tp] = failed.rewind_to
            if final:
                log.warning("store down at shutdown sink=%s: %s", self.sink.name, failed.outage)
            else:
                self.outage(loop, failed.outage, now)
        elif results:
            retries = loop.recovered()
            if retries:
                log.info("store back sink=%s after %d retries", self.sink.name, retries)
            self.metrics.store_up.labels(self._label).set(1)

    def outage(self, loop: ConsumeLoop, exc: StoreUnavailableError, now: float) -> None:
        """Drop every buffer, rewind each partition to its first offset not done, back off."""
        for tp, first in self.sink.discard().items():
            loop.next_offsets[tp] = first
        self.stats.outages += 1
        delay = loop.back_off(exc.retry_after, now)
        self.metrics.store_retries.labels(self._label).inc()
        self.metrics.store_up.labels(self._label).set(0)
        log.warning(
            "store unavailable sink=%s attempt=%d retry_in=%.1fs: %s",
            self.sink.name,
            loop.attempts,
            delay,
            exc,
        )

    def _account(self, result: FlushResult[Any]) -> None:
        topic = result.tp.topic
        m = self.metrics
        self.stats.written += result.written
        self.stats.rows += result.rows
        self.stats.skipped += result.skipped
        if result.written:
            m.rows_written.labels(self._label, topic).inc(result.rows)
            m.records.labels(self._label, topic, "written").inc(result.written)
            m.batch_records.labels(self._label).observe(result.written)
            m.batch_seconds.labels(self._label, topic).observe(result.seconds)
        if result.skipped:
            m.records.labels(self._label, topic, "skipped").inc(result.skipped)

    def _commit(self, loop: ConsumeLoop, offsets: list[tuple[TopicPartition, int]]) -> None:
        if not offsets:
            return
        if not loop.commit(offsets):
            # The writes stand; the range is read and (idempotently) written again later.
            self.metrics.commits.labels(self._label, "failed").inc()
            return
        self.metrics.commits.labels(self._label, "ok").inc()
        for tp, off in offsets:
            self.metrics.committed_offset.labels(self._label, tp.topic, str(tp.partition)).set(off)
