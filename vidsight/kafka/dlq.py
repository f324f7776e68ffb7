"""Dead letters: the original bytes of a record that cannot be processed, with its context.

The value and key are the original message's, unchanged, so a dead letter can be replayed
once the bug is fixed; the context travels in the headers named by ``DLQ_HEADERS``.
``dlq_headers`` is pure; ``DeadLetterWriter`` queues letters on an :class:`AckingProducer`,
whose flush must succeed before any offset past them is committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from vidsight.kafka.clients import MessageClient
from vidsight.kafka.producer import AckingProducer

log = logging.getLogger(__name__)

DLQ_HEADERS: tuple[str, ...] = (
    "vidsight.stage",  # which component failed, e.g. sink.clickhouse, processor.detections
    "vidsight.error.class",  # exception class name, e.g. SerializationError
    "vidsight.error.message",  # str(exception), UTF-8, truncated to 1 KiB
    "vidsight.source.topic",
    "vidsight.source.partition",  # decimal string
    "vidsight.source.offset",  # decimal string
    "vidsight.ts",  # when it was dead-lettered, UTC microseconds as a decimal string
)
"""Header names of a dead letter, in the order they are written (values UTF-8)."""

MESSAGE_LIMIT = 1024
"""Bytes of the error message kept in its header."""
LOG_LIMIT = 300
"""Characters of the error message logged (some errors quote whole schemas)."""


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def truncate_utf8(text: str, limit: int = MESSAGE_LIMIT) -> bytes:
    """UTF-8 of ``text`` cut to at most ``limit`` bytes without splitting a character."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return data
    return data[:limit].decode("utf-8", errors="ignore").encode("utf-8")


def dlq_headers(
    stage: str, error: BaseException, topic: str, partition: int, offset: int, *, ts_us: int
) -> list[tuple[str, bytes]]:
    """The DLQ headers of a failed record, in ``DLQ_HEADERS`` order."""
    values = (
        stage.encode(),
        type(error).__name__.encode(),
        truncate_utf8(str(error)),
        topic.encode(),
        str(partition).encode(),
        str(offset).encode(),
        str(ts_us).encode(),
    )
    return list(zip(DLQ_HEADERS, values, strict=True))


def parse_dlq_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """The vidsight DLQ headers of a consumed dead letter, decoded (for tools and tests)."""
    wanted = set(DLQ_HEADERS)
    return {k: (v or b"").decode() for k, v in headers or () if k in wanted}


class DeadLetterWriter:
    """Queues dead letters to the DLQ topic on a producer, counting them by source topic.

    Sharing the producer of a loop's outputs makes the flush that precedes an offset commit
    cover the letters too.
    """

    def __init__(self, producer: AckingProducer, topic: str, *, stage: str = "") -> None:
        self.producer = producer
        self.topic = topic
        self.stage = stage
        self.sent: dict[str, int] = {}
        """Letters per source topic since the owner last cleared it."""
        self.total = 0

    def send(
        self,
        error: BaseException,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        stage: str | None = None,
    ) -> None:
        """Queue the dead letter of one record (acknowledged by the producer's next flush)."""
        stage = stage or self.stage
        log.warning(
            "dead letter stage=%s topic=%s partition=%d offset=%d error=%s: %s",
            stage,
            topic,
            partition,
            offset,
            type(error).__name__,
            shorten(str(error), LOG_LIMIT),
        )
        headers = dlq_headers(stage, error, topic, partition, offset, ts_us=time.time_ns() // 1000)
        self.producer.produce(self.topic, value, key, headers=headers)
        self.sent[topic] = self.sent.get(topic, 0) + 1
        self.total += 1

    def send_message(
        self, error: BaseException, message: MessageClient, *, stage: str | None = None
    ) -> None:
        """Queue the dead letter of a consumed client message."""
        self.send(
            error,
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=message.key(),
            value=message.value(),
            stage=stage,
        )

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every queued letter; DeliveryError when the broker did not acknowledge."""
        self.producer.flush(timeout_s)
