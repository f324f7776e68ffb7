"""The consume-loop skeleton over an in-memory Kafka: hooks called in order, a back-off
rewinds and re-reads, idle exit, the graceful stop, a crash skips the final hook's commit."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.memory_kafka import MemoryBroker
from vidsight.kafka.backoff import Backoff
from vidsight.kafka.clients import TopicPartition
from vidsight.kafka.loop import ConsumeLoop, LoopOptions

TOPIC = "t"


class Hooks:
    """Records what the loop asked; ``down_once`` values make the 'store' fail once."""

    def __init__(self, down_once: set[bytes] | None = None) -> None:
        self.loop: ConsumeLoop | None = None
        self.calls: list[str] = []
        self.handled: list[tuple[int, int]] = []
        self.down_once = set(down_once or ())
        self.stopped: bool | None = None

    def on_assign(self, tps: list[TopicPartition]) -> None:
        self.calls.append(f"assign {sorted(tp.partition for tp in tps)}")

    def on_revoke(self, tps: list[TopicPartition]) -> None:
        self.calls.append(f"revoke {sorted(tp.partition for tp in tps)}")

    def on_lost(self, tps: list[TopicPartition]) -> None:
        self.calls.append("lost")

    def on_messages(self, messages: list[Any], now: float) -> None:
        loop = self.loop
        assert loop is not None
        for m in messages:
            tp = TopicPartition(m.topic(), m.partition())
            if not loop.admit(tp, m.offset()):
                continue
            loop.touch(now)
            if m.value() in self.down_once:
                self.down_once.discard(m.value())
                loop.next_offsets[tp] = m.offset()  # not done: read it again
                loop.back_off(None, now)
                return
            self.handled.append((m.partition(), m.offset()))
            loop.next_offsets[tp] = m.offset() + 1

    def on_tick(self, now: float) -> None:
        pass

    def due_in(self, now: float) -> float | None:
        return None

    def holding(self) -> bool:
        return False

    def on_stop(self, failed: bool) -> None:
        self.stopped = failed


def loop_over(broker: MemoryBroker, hooks: Hooks, **options: Any) -> ConsumeLoop:
    consumer = broker.clients().consumer({"group.id": "g"})
    loop = ConsumeLoop(
        consumer,
        [TOPIC],
        hooks,
        options=LoopOptions(batch_max=3, poll_max_s=0.01, exit_when_idle_s=0.2, **options),
        stop=threading.Event(),
        backoff=Backoff(initial_s=0.01, max_s=0.02, jitter=0.0),
        label="test",
    )
    hooks.loop = loop
    return loop


def filled(n: int = 6) -> MemoryBroker:
    broker = MemoryBroker()
    broker.create(TOPIC, 2)
    for i in range(n):
        broker.append(TOPIC, f"v{i}".encode(), partition=i % 2)
    return broker


def test_every_record_once_then_idle_exit_graceful_stop_and_revoke() -> None:
    hooks = Hooks()
    loop_over(filled(), hooks).run()
    assert sorted(hooks.handled) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert hooks.calls == ["assign [0, 1]", "revoke [0, 1]"]  # the close leaves the group
    assert hooks.stopped is False


def test_a_back_off_pauses_then_rereads_from_the_rewound_offset() -> None:
    hooks = Hooks(down_once={b"v2"})
    loop = loop_over(filled(), hooks)
    loop.run()
    assert sorted(hooks.handled) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert loop.attempts == 1  # hooks call recovered() when the store answers again


def test_from_beginning_ignores_committed_offsets() -> None:
    broker = filled()
    broker.committed[("g", TOPIC, 0)] = 3
    broker.committed[("g", TOPIC, 1)] = 3
    hooks = Hooks()
    loop_over(broker, hooks).run()
    assert hooks.handled == []
    hooks = Hooks()
    loop_over(broker, hooks, from_beginning=True).run()
    assert len(hooks.handled) == 6


def test_a_failure_reaches_on_stop_as_failed_and_propagates() -> None:
    class Broken(Hooks):
        def on_messages(self, messages: list[Any], now: float) -> None:
            raise RuntimeError("bug")

    hooks = Broken()
    with pytest.raises(RuntimeError):
        loop_over(filled(), hooks).run()
    assert hooks.stopped is True
