"""Dead letters at the final checkpoint (shutdown, revoke): a failed DLQ flush loses nothing.

The dead-letter double here behaves like the Kafka producer: a letter is delivered only by a
flush that succeeds, and a failed flush loses what it had queued (it reports the failure once,
then forgets). So a letter is safe only if the runner re-reads its record after the failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TopicPartition as KafkaTopicPartition
from sink_helpers import TOPIC, FakeConsumer, FakeLog, FakeMessage, MemorySink, runner_for
from sink_helpers import settings as sink_settings

from sinks.batching import SourceMessage
from sinks.errors import StoreUnavailableError
from sinks.runner import RunOptions


@dataclass
class ProducerLikeDeadLetters:
    queued: list[SourceMessage] = field(default_factory=list)
    delivered: list[SourceMessage] = field(default_factory=list)
    lost: list[SourceMessage] = field(default_factory=list)
    fail_flushes: int = 0

    def send(self, message: SourceMessage, error: BaseException) -> None:
        self.queued.append(message)

    def flush(self, timeout_s: float = 30.0) -> None:
        queued, self.queued = self.queued, []
        if self.fail_flushes:
            self.fail_flushes -= 1
            self.lost += queued
            raise StoreUnavailableError("kafka", "dlq not acknowledged")
        self.delivered += queued

    def delivered_offsets(self) -> set[tuple[int, int]]:
        return {(m.partition, m.offset) for m in self.delivered}


class ScriptedConsumer(FakeConsumer):
    """A FakeConsumer that runs ``script[n]`` before its n-th consume (revokes, stops)."""

    def __init__(self, log: FakeLog, script: dict[int, Callable[[ScriptedConsumer], None]]):
        super().__init__(log, per_call=10)
        self.script = script
        self.calls = 0
        self.on_revoke: Callable[..., None] | None = None

    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None,
                  on_lost: Any = None) -> None:  # fmt: skip
        super().subscribe(topics, on_assign, on_revoke, on_lost)
        self.on_revoke = on_revoke

    def revoke(self, partition: int) -> None:
        assert self.on_revoke is not None
        self.on_revoke(self, [KafkaTopicPartition(TOPIC, partition)])
        self.log.partitions = {p: m for p, m in self.log.partitions.items() if p != partition}

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.calls += 1
        action = self.script.get(self.calls)
        if action is not None:
            action(self)
        return super().consume(num_messages, timeout)


def lazy_sink() -> MemorySink:
    """Nothing is flushed before the stop or revoke the test scripts."""
    sink = MemorySink(sink_settings(batch_max_age_s=3600, batch_max_records=100))
    sink.bad_prepare = {"bad"}
    return sink


def run_script(
    log: FakeLog, dead: ProducerLikeDeadLetters, script: dict[int, Callable[[Any], None]]
) -> MemorySink:
    sink = lazy_sink()
    stop = threading.Event()
    consumer = ScriptedConsumer(log, script)
    runner = runner_for(sink, consumer, RunOptions(), stop=stop, dead=dead)  # type: ignore[arg-type]
    thread = threading.Thread(target=runner.run)
    thread.start()
    # Long enough for the back-off after a failed flush (10 ms here) and the read after it.
    threading.Timer(0.5, stop.set).start()
    thread.join(10)
    assert not thread.is_alive()
    return sink


def test_a_failed_dead_letter_flush_at_shutdown_commits_nothing_and_the_restart_delivers_it() -> (
    None
):
    log = FakeLog()
    log.append(0, [b"r0", b"bad", b"r2"])
    dead = ProducerLikeDeadLetters(fail_flushes=2)  # the final checkpoint's and shutdown's
    run_script(log, dead, {})
    assert [m.offset for m in dead.lost] == [1]
    assert log.committed == {}, "nothing committed past the undelivered letter"
    run_script(log, dead, {})  # the restart reads it again
    assert dead.delivered_offsets() == {(0, 1)}
    assert log.committed == {0: 3}


def test_a_failed_dead_letter_flush_while_revoking_rewinds_the_partitions_kept() -> None:
    log = FakeLog()
    log.append(0, [b"r0", b"r1"])
    log.append(1, [b"s0", b"bad", b"s2"])  # its letter is queued when partition 0 is revoked
    dead = ProducerLikeDeadLetters(fail_flushes=1)
    sink = run_script(log, dead, {3: lambda c: c.revoke(0)})
    assert [(m.partition, m.offset) for m in dead.lost] == [(1, 1)]
    # Partition 1 was read again after the failure: its letter sent again and delivered
    # before its offsets were committed.
    assert dead.delivered_offsets() == {(1, 1)}
    assert log.committed.get(1) == 3
    assert 0 not in log.committed, "the revoked partition's range was not committed"
    assert {"s0", "s2"} <= set(sink.rows)
