"""Batching policy, partition ranges and batch splitting (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sink_helpers import msg

from sinks.batching import Batch, BatchPolicy, Item, PartitionBuffer, TopicPartition


def buffer(offsets: list[int], opened_at: float = 0.0) -> PartitionBuffer[str]:
    buf: PartitionBuffer[str] = PartitionBuffer(offsets[0], offsets[0], opened_at)
    for o in offsets:
        buf.append(Item(msg(o), f"v{o}"))
    return buf


def test_due_by_record_count() -> None:
    policy = BatchPolicy(max_records=3, max_bytes=10**9, max_age_s=60)
    assert not policy.due(buffer([0, 1]), now=0)
    assert policy.due(buffer([0, 1, 2]), now=0)


def test_due_by_bytes() -> None:
    policy = BatchPolicy(max_records=10**6, max_bytes=10, max_age_s=60)
    small = buffer([0])
    assert not policy.due(small, now=0)
    assert policy.due(buffer(list(range(4))), now=0)  # 4 x (3-byte key + 2-byte value)


def test_due_by_age_even_when_nothing_arrives() -> None:
    policy = BatchPolicy(max_records=100, max_bytes=10**9, max_age_s=2.0)
    buf = buffer([5], opened_at=10.0)
    assert not policy.due(buf, now=11.9)
    assert policy.due(buf, now=12.0)
    assert policy.next_due_in(buf, now=11.0) == pytest.approx(1.0)
    assert policy.next_due_in(buf, now=13.0) == 0.0


def test_full_batch_is_due_now() -> None:
    policy = BatchPolicy(max_records=1, max_bytes=10**9, max_age_s=100)
    assert policy.next_due_in(buffer([0]), now=0) == 0.0


@pytest.mark.parametrize("bad", [(0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.0)])
def test_policy_limits_must_be_positive(bad: tuple[int, int, float]) -> None:
    with pytest.raises(ValueError):
        BatchPolicy(*bad)


def test_noted_offsets_extend_the_range_without_items() -> None:
    buf = buffer([3, 4])
    buf.note(7)
    assert (buf.first_offset, buf.last_offset, len(buf.items)) == (3, 7, 2)
    batch = buf.batch(TopicPartition("t", 0))
    assert (batch.first_offset, batch.last_offset) == (3, 7)


def test_size_counts_key_and_value_bytes() -> None:
    buf = buffer([0])
    assert buf.size == len(b"cam") + len(b"v0")


@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=60, unique=True).map(sorted))
def test_split_keeps_every_item_once_in_order_with_exact_ranges(offsets: list[int]) -> None:
    batch: Batch[str] = buffer(offsets).batch(TopicPartition("t", 1))
    left, right = batch.split()
    assert [i.offset for i in left.items] + [i.offset for i in right.items] == offsets
    for half in (left, right):
        assert half.first_offset == half.items[0].offset
        assert half.last_offset == half.items[-1].offset
        assert half.tp == TopicPartition("t", 1)


def test_sub_batch_needs_items() -> None:
    batch: Batch[str] = buffer([0]).batch(TopicPartition("t", 0))
    with pytest.raises(ValueError):
        batch.sub([])
