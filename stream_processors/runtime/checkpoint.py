"""Checkpoints: outputs acknowledged, then camera state written and acknowledged, then input
offsets committed, in that order, without stopping the loop.

A checkpoint taken at instant T captures the state of the changed cameras and the input
positions as they are at T, and closes the producer's epoch of everything emitted before T.
The loop goes on processing; between batches ``advance`` moves the checkpoint along:

1. once the broker acknowledged every output emitted before T, the captured state goes to
   the changelog (the state never claims outputs the broker may not have);
2. once that state is acknowledged, the positions of T are committed.

On the local broker an acknowledgement takes tens of milliseconds and a commit as long;
waiting for them inline would stall the detections path once per checkpoint. Rebalances and
shutdown use ``complete``, which does the same synchronously.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from stream_processors.runtime.changelog import Changelog, State
from stream_processors.runtime.metrics import ProcessorMetrics
from vidsight.kafka.clients import ConsumerClient
from vidsight.kafka.producer import AckingProducer

log = logging.getLogger(__name__)


def log_commit(err: KafkaError | None, partitions: list[KafkaTopicPartition]) -> None:
    """The consumer's ``on_commit``: asynchronous commits report failures here."""
    if err is not None:
        log.warning("offset commit failed, retried at the next checkpoint: %s", err)


@dataclass(slots=True)
class _Pending:
    epoch: int
    states: list[State]
    offsets: list[KafkaTopicPartition]
    started: float
    state_written: bool = False


class Checkpointer:
    """Drives checkpoints of one worker; at most one is under way at a time."""

    def __init__(
        self, producer: AckingProducer, changelog: Changelog, metrics: ProcessorMetrics
    ) -> None:
        self._producer = producer
        self._changelog = changelog
        self._metrics = metrics
        self._pending: _Pending | None = None
        self._committed: dict[tuple[str, int], int] = {}
        self.completed = 0

    @property
    def busy(self) -> bool:
        """A checkpoint is under way."""
        return self._pending is not None

    def changed(self, offsets: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]:
        """The positions that differ from the last ones committed."""
        return [o for o in offsets if self._committed.get((o.topic, o.partition)) != o.offset]

    def begin(self, states: list[State], offsets: list[KafkaTopicPartition]) -> None:
        """Start a checkpoint of what was captured now (the loop continues meanwhile)."""
        assert self._pending is None
        epoch = self._producer.mark()
        self._pending = _Pending(epoch, states, offsets, time.perf_counter())

    def advance(self, consumer: ConsumerClient) -> None:
        """Move the checkpoint under way along as far as acknowledgements allow."""
        pending = self._pending
        if pending is None or not self._producer.acknowledged(pending.epoch):
            return
        if not pending.state_written:
            self._write(pending.states)
            pending.state_written = True
            pending.epoch = self._producer.mark()
            return
        self._commit(consumer, pending.offsets, asynchronous=True)
        self._done(pending)

    def complete(
        self,
        consumer: ConsumerClient | None,
        states: list[State],
        offsets: list[KafkaTopicPartition],
    ) -> None:
        """Finish any checkpoint under way and take one of ``states``/``offsets``, waiting."""
        self._producer.flush()
        pending = self._pending
        if pending is not None and not pending.state_written:
            self._write(pending.states)  # older states first: the newest value wins
        self._write(states)
        self._producer.flush()
        if consumer is not None:
            self._commit(consumer, self.changed(offsets), asynchronous=False)
        if pending is not None:
            self._done(pending)
        self.completed += 1

    def forget(self, topic: str, partition: int) -> None:
        """A partition was revoked: its commits are another worker's business now."""
        self._committed.pop((topic, partition), None)

    def _write(self, states: list[State]) -> None:
        written = self._changelog.write(states)
        if written:
            self._metrics.messages_out.labels(self._changelog.topic).inc(written)

    def _commit(
        self, consumer: ConsumerClient, offsets: list[KafkaTopicPartition], *, asynchronous: bool
    ) -> None:
        if not offsets:
            return
        try:
            if asynchronous:
                consumer.commit(offsets=offsets, asynchronous=True)
            else:
                consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # A rebalance under way: whoever gets the partitions resumes from the previous
            # commit with this (newer) state and skips what it has already seen.
            log.warning("offset commit failed, retried at the next checkpoint: %s", exc)
            return
        for tp in offsets:
            self._committed[(tp.topic, tp.partition)] = tp.offset

    def _done(self, pending: _Pending) -> None:
        self._pending = None
        self.completed += 1
        self._metrics.checkpoint_seconds.observe(time.perf_counter() - pending.started)
