"""`assign_recent`: new-records readers start a lookback before the reported end."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from confluent_kafka import OFFSET_END, KafkaError, KafkaException

from stream_processors.runtime.kafka import assign_recent


class Watermarks:
    """Just what assign_recent asks of a consumer: metadata, watermarks, assign."""

    def __init__(self, marks: dict[int, tuple[int, int] | None]) -> None:
        self.marks = marks
        self.assigned: list[tuple[str, int, int]] = []

    def list_topics(self, topic: str, timeout: float) -> Any:
        meta = SimpleNamespace(error=None, partitions=dict.fromkeys(self.marks))
        return SimpleNamespace(topics={topic: meta})

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        mark = self.marks[tp.partition]
        if mark is None:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        return mark

    def assign(self, tps: list[Any]) -> None:
        self.assigned = [(tp.topic, tp.partition, tp.offset) for tp in tps]


def test_starts_a_lookback_before_the_end_never_before_the_log_start() -> None:
    consumer = Watermarks({0: (0, 5000), 1: (4200, 4300), 2: (0, 0), 3: None})
    assign_recent(consumer, ["alerts"], lookback=1000)  # type: ignore[arg-type]
    assert consumer.assigned == [
        ("alerts", 0, 4000),
        ("alerts", 1, 4200),
        ("alerts", 2, 0),
        ("alerts", 3, OFFSET_END),  # no watermarks: the end, as before
    ]
