"""The consume loop of one sink: decode, ``add``, flush due partitions, commit, back off.

One consumer group per store (``<group_prefix>-<store>``); offsets are committed by hand, only
for ranges a flush reports done and only after their dead letters were acknowledged.

A store outage (or a schema registry outage while decoding) never skips a record: every
buffer is dropped, each partition is rewound to its first offset not done, the whole
assignment is paused, and after the back-off delay the partitions are sought back and resumed,
so the records are read again. The consumer keeps polling while paused, so it stays in its
group however long the outage lasts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Message,
)
from confluent_kafka import TopicPartition as KafkaTopicPartition

from schemas import catalog
from schemas.errors import RegistryUnavailableError, SerializationError
from schemas.records import AvroRecord
from schemas.serde import Serde, TopicSerde
from sinks import incarnation
from sinks.backoff import Backoff
from sinks.base import FlushResult, Sink
from sinks.batching import SourceMessage, TopicPartition
from sinks.dlq import DeadLetterProducer
from sinks.errors import RecordDataError, SinkError, StoreUnavailableError
from sinks.incarnation import TopicIds
from sinks.kafka import (
    approximate_lag,
    consumer_config,
    group_id,
    kafka_tps,
    source_message,
)
from sinks.metrics import SinkMetrics
from sinks.settings import SinkSettings

__all__ = ["DeadLetters", "RunOptions", "RunStats", "SinkRunner", "consumer_config", "group_id"]

log = logging.getLogger(__name__)

_POLL_MAX_S = 0.5
_LAG_EVERY_S = 5.0
_NEVER_ASSIGNED_GRACE_S = 60.0


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How long a run lasts and where it starts."""

    exit_when_idle_s: float | None = None
    """Stop once nothing arrived for this long and everything is flushed (None: run on)."""
    from_beginning: bool = False
    """Start every partition at its first offset, ignoring committed offsets (a rebuild)."""


@dataclass(slots=True)
class RunStats:
    """Totals of one run (what ``sink run`` prints at the end)."""

    consumed: int = 0
    written: int = 0
    rows: int = 0
    skipped: int = 0
    dead_letters: int = 0
    outages: int = 0


class DeadLetters(Protocol):
    """Where dead letters go (``DeadLetterProducer``; a list in tests)."""

    def send(self, message: SourceMessage, error: BaseException) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


class SinkRunner:
    """Runs one sink until stopped (or idle); build one per sink and thread.

    ``consumer_factory`` and ``dead_letters`` replace the Kafka clients (tests inject fakes).
    """

    def __init__(
        self,
        sink: Sink[Any],
        settings: SinkSettings,
        *,
        serde: Serde,
        metrics: SinkMetrics,
        stop: threading.Event,
        options: RunOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        consumer_factory: Callable[[dict[str, Any]], Consumer] = Consumer,
        dead_letters: DeadLetters | None = None,
        topic_ids: TopicIds | None = None,
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.options = options or RunOptions()
        self.metrics = metrics
        self.stats = RunStats()
        self._stop = stop
        self._clock = clock
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        self._codecs: dict[str, tuple[TopicSerde[Any], bool]] = {}
        if sink.decodes:
            for name in sink.topics:
                spec = catalog.topic(name)
                self._codecs[name] = (serde.topic(name), spec.compacted)
        self._consumer_factory = consumer_factory
        self._topic_ids: TopicIds = topic_ids or partial(
            incarnation.describe, settings.kafka_client_config()
        )
        self._consumer: Consumer | None = None
        self._dlq: DeadLetters | None = dead_letters
        self._assigned: set[TopicPartition] = set()
        self._next: dict[TopicPartition, int] = {}
        self._rewound: set[TopicPartition] = set()
        self._paused = False
        self._retry_at = 0.0
        self._attempt = 0
        self._last_activity = 0.0
        self._ever_assigned = False
        self._partitions: int | None = None
        self._lag_at = 0.0
        self._label = sink.name
        self._cooperative = False

    # ---- lifecycle -----------------------------------------------------------------------

    def run(self) -> RunStats:
        """Consume until the stop event is set (or idle); flush and commit on the way out."""
        started = self._clock()
        self._last_activity = started
        if not self._open_store():
            return self.stats
        if self._dlq is None:
            self._dlq = DeadLetterProducer(
                self.settings.kafka_client_config(), stage=f"sink.{self.sink.name}"
            )
        conf = consumer_config(self.settings, self.sink.name)
        self._cooperative = "cooperative" in str(conf.get("partition.assignment.strategy", ""))
        consumer = self._consumer = self._consumer_factory(conf)
        consumer.subscribe(
            list(self.sink.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info(
            "sink started sink=%s group=%s", self.sink.name, group_id(self.settings, self._label)
        )
        try:
            while not self._stop.is_set():
                messages = consumer.consume(
                    self.settings.consume_max_messages, self._poll_timeout(self._clock())
                )
                now = self._clock()
                for message in messages:
                    self._handle(message, now)
                if self._paused:
                    if now >= self._retry_at:
                        self._resume()
                else:
                    due = self.sink.due(now)
                    if due:
                        self._checkpoint(due, now)
                self._update_lag(now)
                if self._idle(now, started):
                    log.info("sink idle, exiting sink=%s", self.sink.name)
                    break
        finally:
            self._shutdown()
        return self.stats

    def _learn_topic_ids(self, topics: list[str]) -> None:
        """Ask the broker which incarnation of each newly assigned topic this is (again on
        every assignment: a topic may have been created anew meanwhile). Without the answer
        the offset-keyed stores could take new records for ones they already hold, so this
        retries until the broker answers or the runner stops."""
        attempt = 0
        while topics and not self._stop.is_set():
            try:
                self.sink.topic_ids.update(self._topic_ids(topics))
                return
            except KafkaException as exc:
                attempt += 1
                delay = self._backoff.delay(attempt)
                log.warning(
                    "topic ids not known sink=%s attempt=%d retry_in=%.1fs: %s",
                    self.sink.name,
                    attempt,
                    delay,
                    exc,
                )
                self._stop.wait(delay)

    def _open_store(self) -> bool:
        attempt = 0
        while not self._stop.is_set():
            try:
                self.sink.open()
                self.metrics.store_up.labels(self._label).set(1)
                return True
            except StoreUnavailableError as exc:
                attempt += 1
                delay = self._backoff.delay(attempt, retry_after=exc.retry_after)
                self.metrics.store_up.labels(self._label).set(0)
                self.metrics.store_retries.labels(self._label).inc()
                log.warning(
                    "store not ready sink=%s attempt=%d retry_in=%.1fs: %s",
                    self.sink.name,
                    attempt,
                    delay,
                    exc,
                )
                self._stop.wait(delay)
        return False

    def _shutdown(self) -> None:
        consumer = self._consumer
        try:
            if consumer is not None and not self._paused:
                buffered = self.sink.buffered()
                if buffered:
                    self._checkpoint(buffered, self._clock(), final=True)
        finally:
            if consumer is not None:
                consumer.close()
            if self._dlq is not None:
                try:
                    self._dlq.flush(10.0)
                except StoreUnavailableError as exc:
                    log.error("dead letters left undelivered at shutdown: %s", exc)
            self.sink.close()
            log.info(
                "sink stopped sink=%s consumed=%d written=%d rows=%d skipped=%d dead=%d",
                self.sink.name,
                self.stats.consumed,
                self.stats.written,
                self.stats.rows,
                self.stats.skipped,
                self.stats.dead_letters,
            )

    def _poll_timeout(self, now: float) -> float:
        if self._paused:
            return max(0.0, min(_POLL_MAX_S, self._retry_at - now))
        due_in = self.sink.next_due_in(now)
        return _POLL_MAX_S if due_in is None else min(_POLL_MAX_S, due_in)

    def _idle(self, now: float, started: float) -> bool:
        limit = self.options.exit_when_idle_s
        if limit is None or self._paused or self.sink.buffered():
            return False
        if not self._ever_assigned:
            return now - started >= limit + _NEVER_ASSIGNED_GRACE_S
        if len(self._assigned) < self._partition_count():
            # Another member holds partitions: maybe a killed sink whose session has not
            # expired yet, whose partitions come to us at the next rebalance. Wait that out.
            limit += 2 * self.settings.session_timeout_ms / 1000
        return now - self._last_activity >= limit

    def _partition_count(self) -> int:
        if self._partitions is None and self._consumer is not None:
            try:
                metadata = self._consumer.list_topics(timeout=10)
            except KafkaException:
                return 0
            self._partitions = sum(
                len(metadata.topics[t].partitions)
                for t in self.sink.topics
                if t in metadata.topics and metadata.topics[t].error is None
            )
        return self._partitions or 0

    # ---- messages --------------------------------------------------------------------------

    def _handle(self, message: Message, now: float) -> None:
        err = message.error()
        if err is not None:
            if err.fatal():
                raise SinkError(f"fatal consumer error in sink {self.sink.name}: {err}")
            log.warning("consumer error sink=%s: %s", self.sink.name, err)
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            return
        tp = TopicPartition(topic, partition)
        if tp not in self._assigned:
            return  # fetched before a revoke
        expected = self._next.get(tp)
        if self._paused:
            # Dropped now, read again after the resume's seek.
            if expected is None:
                self._next[tp] = offset
            return
        if expected is not None and offset < expected:
            return  # fetched before a seek back
        self._last_activity = now
        self.stats.consumed += 1
        self.metrics.consumed.labels(self._label, topic).inc()
        source = source_message(message, topic, partition, offset)
        if self.sink.needs_flush_before(source):
            self._checkpoint([tp], now)
            if self._paused:
                return  # the outage rewound this partition to before this message
        try:
            record = self._decode(source)
            self.sink.add(source, record, now)
        except RegistryUnavailableError as exc:
            self._next[tp] = offset
            self._outage(StoreUnavailableError("schema registry", str(exc)), now)
            return
        except (SerializationError, RecordDataError) as exc:
            self._dead_letter(source, exc)
            self.sink.skip(source, now)
        self._next[tp] = offset + 1

    def _decode(self, message: SourceMessage) -> AvroRecord | None:
        codec = self._codecs.get(message.topic)
        if codec is None:
            return None
        serde, compacted = codec
        if compacted:
            decoded: AvroRecord | None = serde.decode_or_tombstone(
                message.value, partition=message.partition, offset=message.offset
            )
            return decoded
        record: AvroRecord = serde.decode(
            message.value, partition=message.partition, offset=message.offset
        )
        return record

    def _dead_letter(self, message: SourceMessage, exc: Exception) -> None:
        assert self._dlq is not None
        self._dlq.send(message, exc)
        self.stats.dead_letters += 1
        self.metrics.dead_letters.labels(self._label, message.topic).inc()
        self.metrics.records.labels(self._label, message.topic, "dead_lettered").inc()

    # ---- checkpoint ------------------------------------------------------------------------

    def _checkpoint(
        self, tps: Iterable[TopicPartition], now: float, *, final: bool = False
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
                self._dead_letter(item.message, exc)
        assert self._dlq is not None
        try:
            self._dlq.flush()
        except StoreUnavailableError as exc:
            # Nothing of this checkpoint is committed: read it all again (writes are idempotent).
            # Nor may any other partition commit past a dead letter queued since the last good
            # flush (the producer forgets failed letters once it reported them), so the outage
            # drops and rewinds every buffer, at the final checkpoint of a revoke too: the
            # partitions kept are read again and their dead letters sent again.
            for result in results:
                self._next[result.tp] = result.first_offset
            self._outage(exc, now)
            return
        self._commit([(r.tp, r.commit_offset) for r in results if r.commit_offset is not None])
        failed = results[-1] if results and results[-1].outage is not None else None
        if failed is not None and failed.outage is not None:
            self._next[failed.tp] = failed.rewind_to
            if final:
                log.warning("store down at shutdown sink=%s: %s", self.sink.name, failed.outage)
            else:
                self._outage(failed.outage, now)
        elif results:
            if self._attempt:
                log.info("store back sink=%s after %d retries", self.sink.name, self._attempt)
            self._attempt = 0
            self.metrics.store_up.labels(self._label).set(1)

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

    def _commit(self, offsets: list[tuple[TopicPartition, int]]) -> None:
        if not offsets or self._consumer is None:
            return
        try:
            self._consumer.commit(
                offsets=[KafkaTopicPartition(tp.topic, tp.partition, off) for tp, off in offsets],
                asynchronous=False,
            )
        except KafkaException as exc:
            # The writes stand; the range is read and (idempotently) written again later.
            self.metrics.commits.labels(self._label, "failed").inc()
            log.warning("commit failed sink=%s: %s", self.sink.name, exc)
            return
        self.metrics.commits.labels(self._label, "ok").inc()
        for tp, off in offsets:
            self.metrics.committed_offset.labels(self._label, tp.topic, str(tp.partition)).set(off)

    # ---- outages -----------------------------------------------------------------------------

    def _outage(self, exc: StoreUnavailableError, now: float) -> None:
        for tp, first in self.sink.discard().items():
            self._next[tp] = first
        self._attempt += 1
        self.stats.outages += 1
        delay = self._backoff.delay(self._attempt, retry_after=exc.retry_after)
        self._retry_at = now + delay
        self.metrics.store_retries.labels(self._label).inc()
        self.metrics.store_up.labels(self._label).set(0)
        log.warning(
            "store unavailable sink=%s attempt=%d retry_in=%.1fs: %s",
            self.sink.name,
            self._attempt,
            delay,
            exc,
        )
        if not self._paused and self._consumer is not None and self._assigned:
            self._consumer.pause(kafka_tps(self._assigned))
        self._paused = True

    def _resume(self) -> None:
        consumer = self._consumer
        self._paused = False
        # The records rewound here are still to be written: idleness counts from now, not
        # from before the pause (a long store back-off must not read as an idle sink).
        self._last_activity = self._clock()
        if consumer is None or not self._assigned:
            return
        for tp in self._assigned:
            offset = self._next.get(tp)
            if offset is not None:
                consumer.seek(KafkaTopicPartition(tp.topic, tp.partition, offset))
        consumer.resume(kafka_tps(self._assigned))

    # ---- rebalances ----------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        log.info("assigned sink=%s partitions=%s", self.sink.name, ",".join(map(str, tps)))
        self.sink.forget(tps)
        self._learn_topic_ids(sorted({tp.topic for tp in tps}))
        self.sink.assigned(tps)
        for tp in tps:
            self._next.pop(tp, None)
        self._assigned.update(tps)
        self._ever_assigned = True
        self._last_activity = self._clock()
        if self.options.from_beginning:
            for p, tp in zip(partitions, tps, strict=True):
                if tp not in self._rewound:
                    p.offset = OFFSET_BEGINNING
                    self._rewound.add(tp)
        # Assign explicitly (instead of letting the client do it after this callback) so the
        # start offsets above and the pause below apply to this very assignment.
        if self._cooperative:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
        if self._paused:
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        log.info("revoked sink=%s partitions=%s", self.sink.name, ",".join(map(str, tps)))
        if not self._paused:
            buffered = [tp for tp in tps if tp in set(self.sink.buffered())]
            if buffered:
                self._checkpoint(buffered, self._clock(), final=True)
        self._drop(tps)

    def _on_lost(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        log.warning("partitions lost sink=%s partitions=%s", self.sink.name, tps)
        self._drop(tps)

    def _drop(self, tps: list[TopicPartition]) -> None:
        self.sink.forget(tps)
        for tp in tps:
            self._assigned.discard(tp)
            self._next.pop(tp, None)

    # ---- lag -----------------------------------------------------------------------------

    def _update_lag(self, now: float) -> None:
        if now < self._lag_at or self._consumer is None or not self._assigned:
            return
        self._lag_at = now + _LAG_EVERY_S
        for tp, lag in approximate_lag(self._consumer, self._assigned).items():
            self.metrics.lag_approx.labels(self._label, tp.topic, str(tp.partition)).set(lag)
