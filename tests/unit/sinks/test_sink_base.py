"""The sink contract: add buffers, flush writes one partition's batch and reports what is done."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from sink_helpers import TOPIC, MemorySink, msg, settings

from sinks.batching import Batch, TopicPartition
from sinks.errors import RecordDataError, StoreUnavailableError

TP0 = TopicPartition(TOPIC, 0)


def fill(sink: MemorySink, offsets: Iterable[int], *, partition: int = 0) -> None:
    for o in offsets:
        sink.add(msg(o, partition=partition), None, now=0.0)


def test_flush_writes_the_batch_and_reports_the_whole_range_done() -> None:
    sink = MemorySink(settings(batch_max_records=100))
    fill(sink, range(4))
    result = sink.flush(TP0)
    assert (result.first_offset, result.done_through, result.commit_offset) == (0, 3, 4)
    assert (result.written, result.rows) == (4, 4)
    assert sink.buffered() == []


def test_flush_of_an_empty_partition_does_nothing() -> None:
    result = MemorySink().flush(TP0)
    assert result.commit_offset is None


def test_outage_clears_the_buffer_and_rewinds_to_the_first_offset() -> None:
    sink = MemorySink(settings(batch_max_records=100))
    fill(sink, range(3, 6))
    sink.down_writes = 1
    result = sink.flush(TP0)
    assert isinstance(result.outage, StoreUnavailableError)
    assert result.done_through is None
    assert result.rewind_to == 3
    assert sink.buffered() == [], "cleared in finally: the records are read again"


class FlakySink(MemorySink):
    """Rejects batches containing poison, and is down on its fifth write."""

    def __init__(self) -> None:
        super().__init__(settings(batch_max_records=100))
        self.calls = 0

    def write(self, batch: Batch[str]) -> int:
        self.calls += 1
        if self.calls == 5:
            raise StoreUnavailableError("memory", "down")
        return super().write(batch)


def test_outage_during_bisection_reports_what_was_written() -> None:
    sink = FlakySink()
    sink.poison = {"v1"}
    fill(sink, range(4))
    result = sink.flush(TP0)
    # write [0..3] poison -> [0,1] poison -> [0] ok -> [1] dead -> [2,3] down
    assert set(sink.rows) == {"v0"}
    assert [item.offset for item, _ in result.dead] == [1]
    assert result.done_through == 1
    assert result.rewind_to == 2
    assert result.outage is not None


def test_bisection_finds_every_poisoned_record() -> None:
    sink = MemorySink(settings(batch_max_records=100))
    sink.poison = {"v2", "v5", "v6"}
    fill(sink, range(9))
    result = sink.flush(TP0)
    assert sorted(item.offset for item, _ in result.dead) == [2, 5, 6]
    assert set(sink.rows) == {f"v{i}" for i in (0, 1, 3, 4, 7, 8)}
    assert result.done_through == 8


def test_mapping_error_buffers_nothing() -> None:
    sink = MemorySink()
    sink.bad_prepare = {"v0"}
    with pytest.raises(RecordDataError):
        sink.add(msg(0), None, now=0.0)
    assert sink.buffered() == []


def test_skip_and_nothing_to_write_extend_the_committed_range() -> None:
    sink = MemorySink(settings(batch_max_records=100))
    sink.add(msg(0), None, now=0.0)
    sink.skip(msg(1), now=0.0)
    sink.add(msg(2, b"nothing"), None, now=0.0)
    result = sink.flush(TP0)
    assert result.written == 1
    assert result.commit_offset == 3


def test_the_store_is_asked_once_per_assignment_from_the_first_offset_read() -> None:
    sink = MemorySink(settings(batch_max_records=100))
    sink.knows_offsets = True
    sink.written_offsets = {0: {0, 1}, 1: {0, 1}}  # written before a crash
    fill(sink, range(3), partition=0)
    fill(sink, range(3), partition=1)
    first = sink.flush(TP0)
    second = sink.flush(TopicPartition(TOPIC, 1))
    assert sink.resume_asks == [(TP0, 0), (TopicPartition(TOPIC, 1), 0)]
    assert (first.skipped, first.written, second.skipped) == (2, 1, 2)
    fill(sink, range(3, 5))
    sink.flush(TP0)
    assert len(sink.resume_asks) == 2, "known from here on"
    sink.forget([TP0])
    fill(sink, range(5, 7))
    sink.flush(TP0)
    assert sink.resume_asks[-1] == (TP0, 5), "asked again after the partition was reassigned"


def test_a_store_that_does_not_know_offsets_is_never_asked() -> None:
    sink = MemorySink(settings(batch_max_records=100))
    sink.written_offsets = {0: {0, 1}}
    fill(sink, range(3))
    result = sink.flush(TP0)
    assert (result.skipped, result.written, sink.resume_asks) == (0, 3, [])


def test_needs_flush_before_when_full() -> None:
    sink = MemorySink(settings(batch_max_records=2))
    assert not sink.needs_flush_before(msg(0))
    fill(sink, range(2))
    assert sink.needs_flush_before(msg(2))


def test_discard_returns_the_first_offset_of_each_range() -> None:
    sink = MemorySink()
    fill(sink, range(5, 7), partition=0)
    fill(sink, range(9, 10), partition=2)
    assert sink.discard() == {TP0: 5, TopicPartition(TOPIC, 2): 9}
    assert sink.buffered() == []


def test_due_and_next_due_in() -> None:
    sink = MemorySink(settings(batch_max_records=100, batch_max_age_s=1.0))
    assert sink.next_due_in(0.0) is None
    sink.add(msg(0), None, now=10.0)
    assert sink.due(10.5) == []
    assert sink.next_due_in(10.5) == pytest.approx(0.5)
    assert sink.due(11.0) == [TP0]


def test_below_the_resume_point_only_what_the_store_holds_is_skipped() -> None:
    sink = MemorySink(settings(batch_max_records=100))
    sink.knows_offsets = True
    sink.written_offsets = {0: {0, 1, 3}}  # offset 2 was dead-lettered, 4 never written
    fill(sink, range(6))
    result = sink.flush(TP0)
    assert result.skipped == 3
    assert set(sink.rows) == {"v2", "v4", "v5"}
    assert result.commit_offset == 6
