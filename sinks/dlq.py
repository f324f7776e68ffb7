"""Dead letters: the original bytes of a record that cannot be projected, with its context.

The value and key are the original message's, unchanged, so a dead letter can be replayed
once the bug is fixed; the context travels in the headers named by ``schemas.catalog.DLQ_HEADERS``.
``dlq_headers`` is pure; ``DeadLetterProducer`` is the Kafka adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from schemas.catalog import DLQ, DLQ_HEADERS
from schemas.records import now_micros
from sinks.batching import SourceMessage
from sinks.errors import StoreUnavailableError

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 1024
"""Bytes of the error message kept in its header."""
LOG_LIMIT = 300
"""Characters of the error message logged (some errors quote whole schemas)."""

(
    STAGE,
    ERROR_CLASS,
    ERROR_MESSAGE,
    SOURCE_TOPIC,
    SOURCE_PARTITION,
    SOURCE_OFFSET,
    DLQ_TS,
) = DLQ_HEADERS


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
    stage: str, error: BaseException, message: SourceMessage, *, ts_us: int
) -> list[tuple[str, bytes]]:
    """The DLQ headers of a failed message, in ``DLQ_HEADERS`` order."""
    return [
        (STAGE, stage.encode()),
        (ERROR_CLASS, type(error).__name__.encode()),
        (ERROR_MESSAGE, truncate_utf8(str(error))),
        (SOURCE_TOPIC, message.topic.encode()),
        (SOURCE_PARTITION, str(message.partition).encode()),
        (SOURCE_OFFSET, str(message.offset).encode()),
        (DLQ_TS, str(ts_us).encode()),
    ]


def parse_dlq_headers(headers: list[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """The vidsight DLQ headers of a consumed dead letter, decoded (for tools and tests)."""
    wanted = set(DLQ_HEADERS)
    return {k: (v or b"").decode() for k, v in headers or () if k in wanted}


class DeadLetterProducer:
    """Produces dead letters to vidsight.dlq; ``flush`` must succeed before offsets commit."""

    def __init__(self, config: Mapping[str, Any], *, stage: str) -> None:
        conf = dict(config)
        conf.setdefault("acks", "all")
        # Idempotent producers fail with OutOfOrderSequenceNumber on the local broker when two
        # run at once; one request in flight keeps retries from reordering instead.
        conf.setdefault("enable.idempotence", False)
        conf.setdefault("max.in.flight.requests.per.connection", 1)
        conf.setdefault("logger", logging.getLogger("rdkafka.dlq"))
        self.stage = stage
        self._producer = Producer(conf)
        self._failed: list[str] = []
        self.sent = 0

    def send(self, message: SourceMessage, error: BaseException) -> None:
        """Queue one dead letter (delivered by ``flush``)."""
        headers: list[tuple[str, str | bytes | None]] = [
            *dlq_headers(self.stage, error, message, ts_us=now_micros())
        ]
        log.warning(
            "dead letter stage=%s topic=%s partition=%d offset=%d error=%s: %s",
            self.stage,
            message.topic,
            message.partition,
            message.offset,
            type(error).__name__,
            shorten(str(error), LOG_LIMIT),
        )
        while True:
            try:
                self._producer.produce(
                    DLQ,
                    key=message.key,
                    value=message.value,
                    headers=headers,
                    on_delivery=partial(self._delivered, message),
                )
                break
            except BufferError:
                self._producer.poll(0.1)
        self.sent += 1

    def _delivered(self, source: SourceMessage, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            where = f"{source.topic}/{source.partition}@{source.offset}"
            self._failed.append(f"{where}: {err}")

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every queued dead letter; StoreUnavailableError when the broker did not ack.

        A failed letter is reported once and then forgotten: the caller must not commit past
        any record whose letter was queued since the last good flush (the runner re-reads them).
        """
        left = self._producer.flush(timeout_s)
        failed, self._failed = self._failed, []
        if left or failed:
            raise StoreUnavailableError(
                "kafka", f"dead letters not delivered to {DLQ}: {failed or f'{left} pending'}"
            )
