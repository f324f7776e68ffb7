"""Dead letters of the processor: the original key and value, the context in headers.

``dead_letter_headers`` is pure; the records go out through the worker's own producer, so the
flush that precedes an offset commit also covers them: a record is never committed past
before its dead letter is acknowledged.
"""

from __future__ import annotations

import logging

from confluent_kafka import Message

from schemas.catalog import DLQ_HEADERS
from schemas.records import now_micros
from stream_processors.runtime.kafka import AckingProducer

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 1024
"""Bytes of the error message kept in its header."""


def _truncate(text: str, limit: int = MESSAGE_LIMIT) -> bytes:
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return data
    return data[:limit].decode("utf-8", errors="ignore").encode("utf-8")


def dead_letter_headers(
    stage: str, error: BaseException, topic: str, partition: int, offset: int, *, ts_us: int
) -> list[tuple[str, bytes]]:
    """The vidsight DLQ headers of a failed record, in ``DLQ_HEADERS`` order."""
    values = (
        stage,
        type(error).__name__,
        None,
        topic,
        str(partition),
        str(offset),
        str(ts_us),
    )
    return [
        (name, _truncate(str(error)) if value is None else value.encode())
        for name, value in zip(DLQ_HEADERS, values, strict=True)
    ]


class DeadLetters:
    """Sends records that cannot be processed to the DLQ topic, counting them by source."""

    def __init__(self, producer: AckingProducer, topic: str) -> None:
        self._producer = producer
        self.topic = topic
        self.sent: dict[str, int] = {}

    def send(self, stage: str, msg: Message, error: BaseException) -> None:
        """Queue the dead letter of a consumed message (acknowledged by the next flush)."""
        source = msg.topic() or ""
        partition = msg.partition() or 0
        offset = msg.offset() or 0
        log.warning(
            "dead letter stage=%s topic=%s partition=%d offset=%d error=%s: %s",
            stage,
            source,
            partition,
            offset,
            type(error).__name__,
            error,
        )
        headers = dead_letter_headers(stage, error, source, partition, offset, ts_us=now_micros())
        self._producer.produce(self.topic, msg.value(), msg.key(), headers=headers)
        self.sent[source] = self.sent.get(source, 0) + 1
