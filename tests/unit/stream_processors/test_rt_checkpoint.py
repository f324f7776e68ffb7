"""The checkpoint order holds even though it runs alongside the loop: camera state is never
written before the outputs it accounts for are acknowledged, offsets never committed before
that state is."""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from stream_processors.runtime.changelog import State
from stream_processors.runtime.checkpoint import Checkpointer
from stream_processors.runtime.metrics import ProcessorMetrics


class FakeProducer:
    """Epochs as AckingProducer keeps them; the test acknowledges epochs by hand."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.epoch = 0
        self.acked = -1
        self.records: list[tuple[str, Any]] = []

    def mark(self) -> int:
        self.epoch += 1
        return self.epoch - 1

    def acknowledged(self, epoch: int) -> bool:
        return epoch <= self.acked

    def flush(self) -> None:
        self.acked = self.epoch
        self.log.append("flush")


class FakeChangelog:
    topic = "changelog"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def write(self, states: list[State]) -> int:
        self.log.extend(f"state {camera}={data!r}" for camera, _, data in states)
        return len(states)


class FakeConsumer:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        mode = "async" if asynchronous else "sync"
        self.log.append(f"commit {mode} " + ",".join(f"{o.partition}@{o.offset}" for o in offsets))


def make() -> tuple[Checkpointer, FakeProducer, FakeConsumer, list[str]]:
    log: list[str] = []
    producer = FakeProducer(log)
    checkpoints = Checkpointer(producer, FakeChangelog(log), ProcessorMetrics())
    return checkpoints, producer, FakeConsumer(log), log


def tp(partition: int, offset: int) -> TopicPartition:
    return TopicPartition("detections", partition, offset)


def test_state_waits_for_the_outputs_and_the_commit_for_the_state() -> None:
    checkpoints, producer, consumer, log = make()
    checkpoints.begin([("cam-1", 0, b"s1")], [tp(0, 10)])
    assert checkpoints.busy
    checkpoints.advance(consumer)
    checkpoints.advance(consumer)  # nothing acknowledged yet
    assert log == []
    producer.acked = 0  # the outputs emitted before the checkpoint
    checkpoints.advance(consumer)
    assert log == ["state cam-1=b's1'"]
    checkpoints.advance(consumer)
    assert log == ["state cam-1=b's1'"]  # the state is not acknowledged yet
    producer.acked = 1
    checkpoints.advance(consumer)
    assert log == ["state cam-1=b's1'", "commit async 0@10"]
    assert not checkpoints.busy and checkpoints.completed == 1


def test_unchanged_positions_are_not_committed_again() -> None:
    checkpoints, _, consumer, _ = make()
    checkpoints.complete(consumer, [], [tp(0, 10), tp(1, 5)])
    assert checkpoints.changed([tp(0, 10), tp(1, 6)]) == [tp(1, 6)]
    checkpoints.forget("detections", 0)
    assert checkpoints.changed([tp(0, 10)]) == [tp(0, 10)]


def test_complete_finishes_a_checkpoint_under_way_in_order() -> None:
    checkpoints, _, consumer, log = make()
    checkpoints.begin([("cam-1", 0, b"old")], [tp(0, 10)])
    checkpoints.complete(consumer, [("cam-1", 0, b"new")], [tp(0, 20)])
    assert log == ["flush", "state cam-1=b'old'", "state cam-1=b'new'", "flush", "commit sync 0@20"]
    assert not checkpoints.busy and checkpoints.completed == 2


class _Msg:
    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0


def test_acking_producer_counts_acknowledgements_per_epoch() -> None:
    from confluent_kafka import KafkaError

    from stream_processors.runtime.errors import DeliveryError
    from stream_processors.runtime.kafka import AckingProducer

    producer = AckingProducer(
        {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 100, "log_level": 0}
    )
    try:
        producer.produce("t", b"a", b"k")
        first = producer.mark()
        producer.produce("t", b"b", b"k")
        producer.produce("t", b"c", b"k")
        second = producer.mark()
        assert not producer.acknowledged(first)
        producer._delivered(second, None, _Msg())  # a later record acknowledged first
        assert not producer.acknowledged(first) and not producer.acknowledged(second)
        producer._delivered(first, None, _Msg())
        assert producer.acknowledged(first) and not producer.acknowledged(second)
        producer._delivered(second, KafkaError(KafkaError._MSG_TIMED_OUT), _Msg())
        try:
            producer.acknowledged(second)
        except DeliveryError as exc:
            assert "t[0]" in str(exc)
        else:
            raise AssertionError("a failed delivery must raise")
    finally:
        producer._producer.purge()
