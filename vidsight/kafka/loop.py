"""The consume-loop skeleton every runtime loop is built on (sinks, processor, readers).

``ConsumeLoop`` owns the consumer's side of a loop: the subscription and its assignment,
revocation and loss callbacks, the consume/handle/tick cycle, pause-rewind-resume with a
back-off when a downstream store or service is down, idle exit and the graceful shutdown.
What a loop *does* with its records lives in its ``LoopHooks``; the loop calls them:

- ``on_assign``/``on_revoke``/``on_lost`` with plain ``TopicPartition`` tuples (before the
  loop's own bookkeeping on assign, after the hook on revoke/loss);
- ``on_messages(messages, now)`` with every non-empty batch (the hot path: records untouched);
- ``on_tick(now)`` after each consume, paused or not (flushes, checkpoints, timers, lag;
  check ``paused`` before writing anything);
- ``due_in(now)`` bounds the consume wait (the next flush due), ``holding()`` says work is
  in hand (never idle then), ``on_stop(failed)`` runs before the consumer closes.

A hook that finds its store down calls ``back_off``: the whole assignment is paused and,
once the delay has passed, every partition is sought back to ``next_offsets`` (what the hook
rewound) and resumed, so nothing is skipped. The consumer keeps polling while paused, so it
stays in its group however long the outage lasts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from vidsight.kafka.backoff import Backoff
from vidsight.kafka.clients import ConsumerClient, MessageClient, TopicPartition, kafka_tps
from vidsight.kafka.errors import FatalConsumerError, StoppedError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LoopStats:
    """Totals every loop keeps (each loop's own stats extend them)."""

    consumed: int = 0
    dead_letters: int = 0


@dataclass(frozen=True, slots=True)
class LoopOptions:
    """How a loop consumes and when it ends by itself."""

    batch_max: int = 500
    """Records per consume call."""
    poll_max_s: float = 0.5
    """Longest consume wait (shorter when ``due_in`` says so)."""
    exit_when_idle_s: float | None = None
    """Stop once nothing arrived for this long and nothing is held (None: run on)."""
    unassigned_grace_s: float = 60.0
    """Extra idle wait before a first assignment (joining a group takes a while)."""
    partial_grace_s: float = 0.0
    """Extra idle wait while other members hold some partitions (maybe a killed member whose
    session has not expired yet, whose partitions come here at the next rebalance)."""
    from_beginning: bool = False
    """Start every partition at its first offset once, ignoring committed offsets."""
    cooperative: bool = False
    """The group rebalances incrementally (assign with ``incremental_assign``)."""


class LoopHooks(Protocol):
    """What a loop does with its partitions and records."""

    def on_assign(self, tps: list[TopicPartition]) -> None: ...
    def on_revoke(self, tps: list[TopicPartition]) -> None: ...
    def on_lost(self, tps: list[TopicPartition]) -> None: ...
    def on_messages(self, messages: list[Any], now: float) -> None: ...
    def on_tick(self, now: float) -> None: ...
    def due_in(self, now: float) -> float | None: ...
    def holding(self) -> bool: ...
    def on_stop(self, failed: bool) -> None: ...


def message_error(message: MessageClient, label: str) -> bool:
    """True (logged) when ``message`` carries a consumer error instead of a record;
    FatalConsumerError when the client cannot go on."""
    err = message.error()
    if err is None:
        return False
    if err.fatal():
        raise FatalConsumerError(f"fatal consumer error in {label}: {err}")
    log.warning("consumer error %s topic=%s: %s", label, message.topic(), err)
    return True


class ConsumeLoop:
    """One consumer's loop; build one per thread (``run`` once)."""

    def __init__(
        self,
        consumer: ConsumerClient,
        topics: Sequence[str],
        hooks: LoopHooks,
        *,
        options: LoopOptions,
        stop: threading.Event,
        backoff: Backoff,
        label: str,
        clock: Callable[[], float] = time.monotonic,
        observe_batch: Callable[[float], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.topics = list(topics)
        self.hooks = hooks
        self.options = options
        self.stop = stop
        self.backoff = backoff
        self.label = label
        self._clock = clock
        self._observe_batch = observe_batch
        self.assigned: set[TopicPartition] = set()
        self.next_offsets: dict[TopicPartition, int] = {}
        """Per partition, the offset to resume from after a pause (set by the hooks)."""
        self.ever_assigned = False
        self.paused = False
        self.failed = False
        self.attempts = 0
        self.retry_at = 0.0
        self.started = 0.0
        self.last_activity = 0.0
        self._rewound: set[TopicPartition] = set()
        self._partitions: int | None = None

    # -- the cycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Subscribe and consume until stopped or idle; ``on_stop`` then close the consumer."""
        hooks = self.hooks
        consumer = self.consumer
        clock = self._clock
        observe = self._observe_batch
        batch_max = self.options.batch_max
        self.started = self.last_activity = clock()
        consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        try:
            while not self.stop.is_set():
                msgs = consumer.consume(batch_max, self._timeout(clock()))
                now = clock()
                if msgs:
                    if observe is None:
                        hooks.on_messages(msgs, now)
                    else:
                        started = time.perf_counter()
                        hooks.on_messages(msgs, now)
                        observe(time.perf_counter() - started)
                if self.paused and now >= self.retry_at:
                    self._resume()
                hooks.on_tick(now)
                if self._idle(now):
                    log.info("idle, exiting loop=%s", self.label)
                    break
        except StoppedError as exc:
            log.info("stopped while waiting loop=%s: %s", self.label, exc)
        except BaseException:
            self.failed = True  # on_stop must not commit past what may be lost
            raise
        finally:
            try:
                hooks.on_stop(self.failed)
            finally:
                consumer.close()

    def touch(self, now: float) -> None:
        """Input arrived: idleness counts from ``now``."""
        self.last_activity = now

    def _timeout(self, now: float) -> float:
        poll_max = self.options.poll_max_s
        if self.paused:
            return max(0.0, min(poll_max, self.retry_at - now))
        due_in = self.hooks.due_in(now)
        return poll_max if due_in is None else max(0.0, min(poll_max, due_in))

    def _idle(self, now: float) -> bool:
        limit = self.options.exit_when_idle_s
        if limit is None or self.paused or self.hooks.holding():
            return False
        if not self.ever_assigned:
            return now - self.started >= limit + self.options.unassigned_grace_s
        if self.options.partial_grace_s and len(self.assigned) < self._partition_count():
            limit += self.options.partial_grace_s
        return now - self.last_activity >= limit

    def _partition_count(self) -> int:
        if self._partitions is None:
            try:
                metadata = self.consumer.list_topics(timeout=10)
            except KafkaException:
                return 0
            self._partitions = sum(
                len(metadata.topics[t].partitions)
                for t in self.topics
                if t in metadata.topics and metadata.topics[t].error is None
            )
        return self._partitions

    # -- pause, rewind, back off ------------------------------------------------------------

    def admit(self, tp: TopicPartition, offset: int) -> bool:
        """Whether a consumed record is to be handled: not when its partition was revoked
        since it was fetched, not while paused (read again after the resume's seek), not when
        it comes before a seek back."""
        if tp not in self.assigned:
            return False
        expected = self.next_offsets.get(tp)
        if self.paused:
            if expected is None:
                self.next_offsets[tp] = offset
            return False
        return expected is None or offset >= expected

    def back_off(self, retry_after: float | None, now: float) -> float:
        """Pause the whole assignment until the back-off delay has passed; returns the delay.
        The hook has set ``next_offsets`` of every partition it dropped records of."""
        self.attempts += 1
        delay = self.backoff.delay(self.attempts, retry_after=retry_after)
        self.retry_at = now + delay
        if not self.paused and self.assigned:
            self.consumer.pause(kafka_tps(self.assigned))
        self.paused = True
        return delay

    def recovered(self) -> int:
        """The store answered again: the next outage backs off from the start. Returns the
        failed attempts there were."""
        attempts, self.attempts = self.attempts, 0
        return attempts

    def _resume(self) -> None:
        consumer = self.consumer
        self.paused = False
        # The records rewound here are still to be handled: idleness counts from now, not
        # from before the pause (a long back-off must not read as an idle loop).
        self.last_activity = self._clock()
        if not self.assigned:
            return
        for tp in self.assigned:
            offset = self.next_offsets.get(tp)
            if offset is not None:
                consumer.seek(KafkaTopicPartition(tp.topic, tp.partition, offset))
        consumer.resume(kafka_tps(self.assigned))

    def commit(self, offsets: list[tuple[TopicPartition, int]]) -> bool:
        """Commit offsets synchronously; False (logged) when the broker refused."""
        if not offsets:
            return True
        try:
            self.consumer.commit(
                offsets=[KafkaTopicPartition(tp.topic, tp.partition, off) for tp, off in offsets],
                asynchronous=False,
            )
        except KafkaException as exc:
            log.warning("commit failed loop=%s: %s", self.label, exc)
            return False
        return True

    # -- rebalances ---------------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        log.info("assigned loop=%s partitions=%s", self.label, ",".join(map(str, tps)))
        self.hooks.on_assign(tps)
        for tp in tps:
            self.next_offsets.pop(tp, None)
        self.assigned.update(tps)
        self.ever_assigned = True
        self.last_activity = self._clock()
        if self.options.from_beginning:
            for p, tp in zip(partitions, tps, strict=True):
                if tp not in self._rewound:
                    p.offset = OFFSET_BEGINNING
                    self._rewound.add(tp)
        # Assign explicitly (instead of letting the client do it after this callback) so the
        # start offsets above and the pause below apply to this very assignment.
        if self.options.cooperative:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
        if self.paused:
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        log.info("revoked loop=%s partitions=%s", self.label, ",".join(map(str, tps)))
        self.hooks.on_revoke(tps)
        self._drop(tps)

    def _on_lost(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        log.warning("partitions lost loop=%s partitions=%s", self.label, tps)
        self.hooks.on_lost(tps)
        self._drop(tps)

    def _drop(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.assigned.discard(tp)
            self.next_offsets.pop(tp, None)
