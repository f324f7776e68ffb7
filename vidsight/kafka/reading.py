"""Readers without a group: assign every partition, read to the end of a partition.

The local broker reports wrong high watermarks after multi-record produce batches (DESIGN.md),
so "the end" of topics other tools own (sensors, feedback) is found by reading past the
reported end until a fetch comes back empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import OFFSET_END, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from vidsight.kafka.clients import ConsumerClient, partitions_of

log = logging.getLogger(__name__)

FIRST_OFFSET = 0
"""Where a read "from the beginning" starts: offset 0 itself rather than OFFSET_BEGINNING,
which asks the broker for its log start, and the local broker's answer is not always right
(it has reported the end). Where retention removed offset 0, the fetch is out of range and
``auto.offset.reset=earliest`` moves it to the real start."""

RECENT_LOOKBACK = 1000
"""Records per partition a "new records only" reader starts before the reported end."""


def assign_from_beginning(consumer: ConsumerClient, topics: Iterable[str]) -> list[tuple[str, int]]:
    """Assign every partition of the topics (no group), starting at the first offset."""
    tps = [(t, p) for t in topics for p in partitions_of(consumer, t)]
    consumer.assign([KafkaTopicPartition(t, p, FIRST_OFFSET) for t, p in tps])
    return tps


def assign_recent(
    consumer: ConsumerClient, topics: Iterable[str], lookback: int = RECENT_LOOKBACK
) -> list[tuple[str, int]]:
    """Assign every partition (no group) a little before its reported end.

    For readers that want only what is written from now on (a tail, a live page), which must
    also skip records stamped before they started: the local broker's reported end offset can
    be off after multi-record batches, too low (old records show: the caller's timestamp
    filter drops them) or too high (new records would be skipped: the lookback covers them).
    Starting at the end itself (OFFSET_END) would trust it.
    """
    tps = [(t, p) for t in topics for p in partitions_of(consumer, t)]
    assignment = []
    for topic, partition in tps:
        tp = KafkaTopicPartition(topic, partition)
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
        except KafkaException as exc:
            log.warning("no watermarks topic=%s partition=%d: %s", topic, partition, exc)
            low, high = -1, -1
        start = max(low, high - lookback, 0) if high >= 0 else OFFSET_END
        assignment.append(KafkaTopicPartition(topic, partition, start))
    consumer.assign(assignment)
    return tps


def read_to_end(
    consumer: ConsumerClient,
    ends: Mapping[tuple[str, int], int],
    handle: Callable[[Any], None],
    *,
    settle_s: float,
    timeout_s: float,
    batch: int = 1000,
) -> bool:
    """Feed ``handle`` every record of the assigned partitions up to their end.

    The end is reached when every partition's position is at least its reported end offset
    (``ends``, from ``KafkaClients.end_offsets``; empty: none known) and a consume waiting
    ``settle_s`` returns nothing, since the reported end may be too low. A fetch that finds
    data returns at once, so only the final, empty one waits. Returns False when ``timeout_s``
    ran out first (the caller carries on with what it read: a reported end may be too high).
    """
    positions = dict.fromkeys(ends, -1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reached = all(positions[tp] >= end for tp, end in ends.items() if end > 0)
        msgs = consumer.consume(batch, settle_s if reached else min(settle_s, 0.1))
        for msg in msgs:
            if msg.error() is not None:
                log.warning("consume error topic=%s: %s", msg.topic(), msg.error())
                continue
            positions[(msg.topic() or "", msg.partition() or 0)] = (msg.offset() or 0) + 1
            handle(msg)
        if not msgs and reached:
            return True
    return False
