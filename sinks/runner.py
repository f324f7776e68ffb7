"""The consume loop of one sink: decode, ``add``, flush due partitions, commit, back off.

One consumer group per store (``<group_prefix>-<store>``); offsets are committed by hand, only
for ranges a flush reports done and only after their dead letters were acknowledged.

The loop itself (assignment, pause and rewind, idle exit, shutdown) is the runtime's
``vidsight.kafka.loop.ConsumeLoop``; ``SinkRunner`` is its hooks. A store outage (or a schema
registry outage while decoding) never skips a record: every buffer is dropped, each partition
is rewound to its first offset not done and the loop backs off (pauses the assignment, then
seeks back and resumes), so the records are read again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import KafkaException

from schemas import catalog
from schemas.errors import RegistryUnavailableError, SerializationError
from schemas.records import AvroRecord
from schemas.serde import Serde, TopicSerde
from sinks import incarnation
from sinks.base import Sink
from sinks.batching import SourceMessage, TopicPartition
from sinks.checkpoint import Checkpoints, DeadLetters
from sinks.dlq import SinkDeadLetters
from sinks.errors import RecordDataError, StoreUnavailableError
from sinks.incarnation import TopicIds
from sinks.metrics import SinkMetrics
from sinks.settings import SinkSettings
from vidsight.kafka import clients
from vidsight.kafka.backoff import Backoff, retry_until_stopped
from vidsight.kafka.clients import ConsumerFactory, approximate_lag, headers_of, is_cooperative
from vidsight.kafka.errors import StoppedError
from vidsight.kafka.loop import ConsumeLoop, LoopOptions, LoopStats, message_error

__all__ = ["DeadLetters", "RunOptions", "RunStats", "SinkRunner", "consumer_config", "group_id"]

log = logging.getLogger(__name__)

_POLL_MAX_S = 0.5
_LAG_EVERY_S = 5.0
_NEVER_ASSIGNED_GRACE_S = 60.0


def group_id(settings: SinkSettings, sink_name: str) -> str:
    """The consumer group of a store."""
    return f"{settings.group_prefix}-{sink_name}"


def consumer_config(settings: SinkSettings, sink_name: str) -> dict[str, Any]:
    """librdkafka consumer config of a store's sink (offsets committed by hand)."""
    return clients.consumer_config(
        settings.kafka_client_config(),
        group_id=group_id(settings, sink_name),
        session_timeout_ms=settings.session_timeout_ms,
        fetch_wait_max_ms=settings.fetch_wait_max_ms,
        logger=f"rdkafka.sink.{sink_name}",
        overrides=settings.consumer_config,
    )


def source_message(message: Any, topic: str, partition: int, offset: int) -> SourceMessage:
    """The sinks' view of a consumed message."""
    _, ts = message.timestamp()
    return SourceMessage(
        topic, partition, offset, message.key(), message.value(), ts, headers_of(message.headers())
    )


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How long a run lasts and where it starts."""

    exit_when_idle_s: float | None = None
    """Stop once nothing arrived for this long and everything is flushed (None: run on)."""
    from_beginning: bool = False
    """Start every partition at its first offset, ignoring committed offsets (a rebuild)."""


@dataclass(slots=True)
class RunStats(LoopStats):
    """Totals of one run (what ``sink run`` prints at the end)."""

    written: int = 0
    rows: int = 0
    skipped: int = 0
    outages: int = 0


class SinkRunner:
    """Runs one sink until stopped (or idle); build one per sink and thread.

    ``consumer_factory`` and ``dead_letters`` replace the Kafka clients (tests inject an
    in-memory log).
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
        consumer_factory: ConsumerFactory = clients.REAL_CLIENTS.consumer,
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
        self._backoff = Backoff(initial_s=settings.backoff_initial_s, max_s=settings.backoff_max_s)
        self._codecs: dict[str, tuple[TopicSerde[Any], bool]] = {}
        if sink.decodes:
            for name in sink.topics:
                spec = catalog.topic(name)
                self._codecs[name] = (serde.topic(name), spec.compacted)
        self._consumer_factory = consumer_factory
        self._topic_ids: TopicIds = topic_ids or partial(
            incarnation.describe, settings.kafka_client_config()
        )
        self._dlq: DeadLetters | None = dead_letters
        self._loop: ConsumeLoop | None = None
        self._checkpoints: Checkpoints | None = None
        self._lag_at = 0.0
        self._label = sink.name

    # ---- lifecycle -----------------------------------------------------------------------

    def run(self) -> RunStats:
        """Consume until the stop event is set (or idle); flush and commit on the way out."""
        if not self._open_store():
            return self.stats
        if self._dlq is None:
            self._dlq = SinkDeadLetters(self.settings, stage=f"sink.{self.sink.name}")
        self._checkpoints = Checkpoints(self.sink, self.metrics, self.stats, self._dlq)
        conf = consumer_config(self.settings, self.sink.name)
        self._loop = ConsumeLoop(
            self._consumer_factory(conf),
            self.sink.topics,
            self,
            options=LoopOptions(
                batch_max=self.settings.consume_max_messages,
                poll_max_s=_POLL_MAX_S,
                exit_when_idle_s=self.options.exit_when_idle_s,
                unassigned_grace_s=_NEVER_ASSIGNED_GRACE_S,
                partial_grace_s=2 * self.settings.session_timeout_ms / 1000,
                from_beginning=self.options.from_beginning,
                cooperative=is_cooperative(conf),
            ),
            stop=self._stop,
            backoff=self._backoff,
            label=f"sink.{self.sink.name}",
            clock=self._clock,
        )
        log.info(
            "sink started sink=%s group=%s", self.sink.name, group_id(self.settings, self._label)
        )
        try:
            self._loop.run()
        finally:
            self._close()
        return self.stats

    @property
    def loop(self) -> ConsumeLoop:
        """The consume loop of the run under way."""
        assert self._loop is not None, "the runner is not running"
        return self._loop

    def _learn_topic_ids(self, topics: list[str]) -> None:
        """Ask the broker which incarnation of each newly assigned topic this is (again on
        every assignment: a topic may have been created anew meanwhile). Without the answer
        the offset-keyed stores could take new records for ones they already hold, so this
        retries until the broker answers or the runner stops."""
        if not topics or self._stop.is_set():
            return

        def retrying(attempt: int, delay: float, exc: BaseException) -> None:
            log.warning(
                "topic ids not known sink=%s attempt=%d retry_in=%.1fs: %s",
                self.sink.name,
                attempt,
                delay,
                exc,
            )

        try:
            ids = retry_until_stopped(
                partial(self._topic_ids, topics),
                retry_on=KafkaException,
                backoff=self._backoff,
                stop=self._stop,
                on_retry=retrying,
            )
        except StoppedError:
            return
        self.sink.topic_ids.update(ids)

    def _open_store(self) -> bool:
        if self._stop.is_set():
            return False

        def retrying(attempt: int, delay: float, exc: BaseException) -> None:
            self.metrics.store_up.labels(self._label).set(0)
            self.metrics.store_retries.labels(self._label).inc()
            log.warning(
                "store not ready sink=%s attempt=%d retry_in=%.1fs: %s",
                self.sink.name,
                attempt,
                delay,
                exc,
            )

        try:
            retry_until_stopped(
                self.sink.open,
                retry_on=StoreUnavailableError,
                backoff=self._backoff,
                stop=self._stop,
                on_retry=retrying,
            )
        except StoppedError:
            return False
        self.metrics.store_up.labels(self._label).set(1)
        return True

    def _close(self) -> None:
        try:
            if self._dlq is not None:
                try:
                    self._dlq.flush(10.0)
                except StoreUnavailableError as exc:
                    log.error("dead letters left undelivered at shutdown: %s", exc)
        finally:
            self.sink.close()
            s = self.stats
            log.info(
                "sink stopped sink=%s consumed=%d written=%d rows=%d skipped=%d dead=%d",
                self.sink.name,
                s.consumed,
                s.written,
                s.rows,
                s.skipped,
                s.dead_letters,
            )

    # ---- loop hooks ----------------------------------------------------------------------

    def on_messages(self, messages: list[Any], now: float) -> None:
        """Decode and buffer a consumed batch."""
        for message in messages:
            self._handle(message, now)

    def on_tick(self, now: float) -> None:
        """Flush the partitions that are due; refresh the lag figures now and then."""
        if not self.loop.paused:
            due = self.sink.due(now)
            if due:
                self._checkpoint(due, now)
        self._update_lag(now)

    def due_in(self, now: float) -> float | None:
        """Seconds until the next partition is due to flush."""
        return self.sink.next_due_in(now)

    def holding(self) -> bool:
        """Records buffered and not yet written."""
        return bool(self.sink.buffered())

    def on_stop(self, failed: bool) -> None:
        """A final checkpoint of everything buffered (none while the store is down)."""
        if not self.loop.paused:
            buffered = self.sink.buffered()
            if buffered:
                self._checkpoint(buffered, self._clock(), final=True)

    def on_assign(self, tps: list[TopicPartition]) -> None:
        """New partitions: learn their topics' incarnations and tell the sink."""
        self.sink.forget(tps)
        self._learn_topic_ids(sorted({tp.topic for tp in tps}))
        self.sink.assigned(tps)

    def on_revoke(self, tps: list[TopicPartition]) -> None:
        """Partitions leave: write and commit what is buffered for them first."""
        if not self.loop.paused:
            buffered = [tp for tp in tps if tp in set(self.sink.buffered())]
            if buffered:
                self._checkpoint(buffered, self._clock(), final=True)
        self.sink.forget(tps)

    def on_lost(self, tps: list[TopicPartition]) -> None:
        """Partitions were taken away: their buffers are another member's business."""
        self.sink.forget(tps)

    # ---- messages --------------------------------------------------------------------------

    def _handle(self, message: Any, now: float) -> None:
        loop = self.loop
        if message_error(message, loop.label):
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            return
        tp = TopicPartition(topic, partition)
        if not loop.admit(tp, offset):
            return
        loop.touch(now)
        self.stats.consumed += 1
        self.metrics.consumed.labels(self._label, topic).inc()
        source = source_message(message, topic, partition, offset)
        if self.sink.needs_flush_before(source):
            self._checkpoint([tp], now)
            if loop.paused:
                return  # the outage rewound this partition to before this message
        try:
            record = self._decode(source)
            self.sink.add(source, record, now)
        except RegistryUnavailableError as exc:
            loop.next_offsets[tp] = offset
            self._outage(StoreUnavailableError("schema registry", str(exc)), now)
            return
        except (SerializationError, RecordDataError) as exc:
            self._dead_letter(source, exc)
            self.sink.skip(source, now)
        loop.next_offsets[tp] = offset + 1

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
        assert self._checkpoints is not None
        self._checkpoints.dead_letter(message, exc)

    def _checkpoint(self, tps: list[TopicPartition], now: float, *, final: bool = False) -> None:
        assert self._checkpoints is not None
        self._checkpoints.run(self.loop, tps, now, final=final)

    def _outage(self, exc: StoreUnavailableError, now: float) -> None:
        assert self._checkpoints is not None
        self._checkpoints.outage(self.loop, exc, now)

    # ---- lag -----------------------------------------------------------------------------

    def _update_lag(self, now: float) -> None:
        loop = self.loop
        if now < self._lag_at or not loop.assigned:
            return
        self._lag_at = now + _LAG_EVERY_S
        for tp, lag in approximate_lag(loop.consumer, loop.assigned).items():
            self.metrics.lag_approx.labels(self._label, tp.topic, str(tp.partition)).set(lag)
