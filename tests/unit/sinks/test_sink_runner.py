"""The consume loop over an in-memory log: commits, outages, dead letters, resume points."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sink_helpers import (
    DeadLetterList,
    FakeConsumer,
    FakeLog,
    MemorySink,
    fake_topic_ids,
    run,
    runner_for,
)
from sink_helpers import settings as sink_settings

from sinks.runner import RunOptions


def values(n: int, start: int = 0) -> list[bytes]:
    return [f"r{i}".encode() for i in range(start, start + n)]


def test_every_record_is_written_once_and_committed() -> None:
    log = FakeLog()
    log.append(0, values(12))
    log.append(1, values(7, 100))
    sink = MemorySink()
    runner, consumer, dead = run(sink, log)
    assert sink.rows == {f"r{i}": 1 for i in [*range(12), *range(100, 107)]}
    assert log.committed == {0: 12, 1: 7}
    assert dead.sent == []
    assert runner.stats.consumed == 19
    assert consumer.closed


def test_batches_hold_at_most_max_records_and_stay_in_offset_order() -> None:
    log = FakeLog()
    log.append(0, values(23))
    sink = MemorySink()
    run(sink, log)
    ranges = [(first, last) for _, first, last in sink.batches]
    assert all(last - first + 1 <= 5 for first, last in ranges)
    assert [o for first, last in ranges for o in range(first, last + 1)] == list(range(23))


def test_store_down_backs_off_and_skips_nothing() -> None:
    log = FakeLog()
    log.append(0, values(9))
    sink = MemorySink()
    sink.down_writes = 3
    runner, _, _ = run(sink, log)
    assert sink.rows == {f"r{i}": 1 for i in range(9)}
    assert log.committed == {0: 9}
    assert runner.stats.outages == 3


def test_poison_is_bisected_out_to_the_dlq_and_the_rest_flows() -> None:
    log = FakeLog()
    log.append(0, values(10))
    sink = MemorySink()
    sink.poison = {"r3"}
    _, _, dead = run(sink, log)
    assert [m.offset for m, _ in dead.sent] == [3]
    assert type(dead.sent[0][1]).__name__ == "BatchDataError"
    assert set(sink.rows) == {f"r{i}" for i in range(10)} - {"r3"}
    assert log.committed == {0: 10}


def test_record_the_sink_cannot_map_goes_to_the_dlq() -> None:
    log = FakeLog()
    log.append(0, values(4))
    sink = MemorySink()
    sink.bad_prepare = {"r1"}
    _, _, dead = run(sink, log)
    assert [(m.offset, type(e).__name__) for m, e in dead.sent] == [(1, "RecordDataError")]
    assert set(sink.rows) == {"r0", "r2", "r3"}
    assert log.committed == {0: 4}


def test_range_of_only_nothing_to_write_is_still_committed() -> None:
    log = FakeLog()
    log.append(0, [b"nothing", b"nothing"])
    sink = MemorySink()
    run(sink, log)
    assert sink.rows == {}
    assert log.committed == {0: 2}


def test_undelivered_dead_letters_block_the_commit_until_delivered() -> None:
    log = FakeLog()
    log.append(0, values(4))
    sink = MemorySink()
    sink.poison = {"r2"}
    dead = DeadLetterList(fail_flushes=2)
    _, consumer, _ = run(sink, log, dlq=dead)
    # Sent again after each failed delivery: the range was read and written again.
    assert [m.offset for m, _ in dead.sent] == [2, 2, 2]
    assert set(sink.rows) == {"r0", "r1", "r3"}
    assert sink.rows["r0"] == 3, "rewritten, idempotently, until the letter was delivered"
    assert consumer.commits == [{0: 4}], "nothing committed while a letter was undelivered"


def test_a_store_that_knows_its_offsets_gets_each_record_once_and_poison_dead_lettered() -> None:
    log = FakeLog()
    log.append(0, values(6))
    sink = MemorySink()
    sink.knows_offsets = True  # like ClickHouse
    sink.poison = {"r2"}
    dead = DeadLetterList(fail_flushes=2)
    run(sink, log, dlq=dead)
    # The range is read again after each undelivered letter: what the store holds is skipped,
    # the poison record (held nowhere) is bisected out and dead-lettered again.
    assert sink.rows == {"r0": 1, "r1": 1, "r3": 1, "r4": 1, "r5": 1}
    assert [m.offset for m, _ in dead.sent] == [2, 2, 2]
    assert log.committed == {0: 6}


def test_records_the_store_already_holds_are_not_written_again() -> None:
    log = FakeLog()
    log.append(0, values(8))
    sink = MemorySink()
    sink.knows_offsets = True
    sink.written_offsets = {0: set(range(5))}  # written, not committed, before a crash
    runner, _, _ = run(sink, log)
    assert set(sink.rows) == {"r5", "r6", "r7"}
    assert runner.stats.skipped == 5
    assert log.committed == {0: 8}


def test_restart_resumes_from_the_committed_offset() -> None:
    log = FakeLog()
    log.append(0, values(6))
    sink = MemorySink()
    run(sink, log)
    log.append(0, values(3, 6))
    second = MemorySink()
    run(second, log)
    assert set(second.rows) == {"r6", "r7", "r8"}
    assert log.committed == {0: 9}


def test_from_beginning_ignores_committed_offsets() -> None:
    log = FakeLog()
    log.append(0, values(6))
    run(MemorySink(), log)
    rebuilt = MemorySink()
    run(rebuilt, log, from_beginning=True)
    assert set(rebuilt.rows) == {f"r{i}" for i in range(6)}


def test_stop_flushes_and_commits_what_is_buffered() -> None:
    log = FakeLog()
    log.append(0, values(3))
    sink = MemorySink(sink_settings(batch_max_age_s=3600, batch_max_records=100))
    consumer = FakeConsumer(log)
    stop = threading.Event()
    runner = runner_for(sink, consumer, RunOptions(), stop=stop)
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 5
    while runner.stats.consumed < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.rows == {}, "nothing is due before the stop"
    stop.set()
    thread.join(5)
    assert set(sink.rows) == {"r0", "r1", "r2"}
    assert log.committed == {0: 3}


class BlockSink(MemorySink):
    """Cuts batches at multiples of 4, like the archive's blocks."""

    def cuts_batch(self, buf, message) -> bool:  # type: ignore[no-untyped-def]
        return message.offset // 4 != buf.first_offset // 4


def test_a_sink_can_cut_batches_at_its_own_boundaries() -> None:
    log = FakeLog()
    log.append(0, values(11))
    sink = BlockSink(sink_settings(batch_max_records=100, batch_max_age_s=0.05))
    run(sink, log, per_call=100)
    assert [(f, last) for _, f, last in sink.batches] == [(0, 3), (4, 7), (8, 10)]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    n=st.integers(1, 30),
    poison=st.sets(st.integers(0, 29), max_size=4),
    outages=st.integers(0, 3),
    batch=st.integers(1, 8),
    per_call=st.integers(1, 10),
    dlq_failures=st.integers(0, 2),
    knows_offsets=st.booleans(),
)
def test_nothing_is_lost_or_skipped_whatever_the_failures(
    n: int,
    poison: set[int],
    outages: int,
    batch: int,
    per_call: int,
    dlq_failures: int,
    knows_offsets: bool,
) -> None:
    log = FakeLog()
    log.append(0, values(n))
    sink = MemorySink(sink_settings(batch_max_records=batch, batch_max_age_s=0.01))
    sink.poison = {f"r{i}" for i in poison if i < n}
    sink.down_writes = outages
    sink.knows_offsets = knows_offsets
    _, _, dead = run(
        sink, log, idle_s=0.05, per_call=per_call, dlq=DeadLetterList(fail_flushes=dlq_failures)
    )
    bad = {i for i in poison if i < n}
    assert set(sink.rows) == {f"r{i}" for i in range(n)} - {f"r{i}" for i in bad}
    assert {m.offset for m, _ in dead.sent} == bad
    assert log.committed == {0: n}
    if knows_offsets:
        assert set(sink.rows.values()) <= {1}, "a store that knows its offsets: once each"


class PartlyAssigned(FakeConsumer):
    """The topic has a partition this consumer was not given (another member holds it)."""

    def list_topics(self, timeout: float = -1):  # type: ignore[no-untyped-def]
        metadata = super().list_topics(timeout)
        metadata.topics[next(iter(metadata.topics))].partitions[99] = None
        return metadata


def test_idle_exit_waits_for_partitions_another_member_may_still_hold() -> None:
    log = FakeLog()
    log.append(0, values(2))
    sink = MemorySink(sink_settings(session_timeout_ms=1000))
    consumer = PartlyAssigned(log)
    runner = runner_for(sink, consumer, RunOptions(exit_when_idle_s=0.1))
    started = time.monotonic()
    runner.run()
    assert time.monotonic() - started >= 2.0, "idle + twice the session timeout"
    assert set(sink.rows) == {"r0", "r1"}


def test_the_sink_learns_each_assigned_topics_incarnation_retrying_the_broker() -> None:
    from confluent_kafka import KafkaError, KafkaException
    from sink_helpers import TOPIC_ID

    log = FakeLog()
    log.append(0, values(2))
    sink = MemorySink(sink_settings(backoff_initial_s=0.01, backoff_max_s=0.02))
    consumer = FakeConsumer(log)
    asked: list[list[str]] = []

    def flaky(topics: Sequence[str]) -> dict[str, str]:
        asked.append(list(topics))
        if len(asked) < 3:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return fake_topic_ids(topics)

    runner = runner_for(sink, consumer, RunOptions(exit_when_idle_s=0.1), topic_ids=flaky)
    runner.run()
    assert len(asked) == 3, "asked again after each failure"
    assert sink.topic_ids == dict.fromkeys(sink.topics, TOPIC_ID)
    assert sink.incarnation_of(sink.topics[0]) == TOPIC_ID
    assert set(sink.rows) == {"r0", "r1"}


def test_a_store_back_off_longer_than_the_idle_limit_does_not_end_the_run_early() -> None:
    """After the pause the rewound records are written before the sink may call itself idle."""
    log = FakeLog()
    log.append(0, values(3))
    sink = MemorySink(sink_settings(backoff_initial_s=0.5, backoff_max_s=0.5, batch_max_age_s=0.01))
    sink.down_writes = 1
    runner = runner_for(sink, FakeConsumer(log), RunOptions(exit_when_idle_s=0.1))
    runner.run()
    assert set(sink.rows) == {"r0", "r1", "r2"}
    assert log.committed == {0: 3}
