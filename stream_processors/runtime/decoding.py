"""Decoding that waits out a schema registry outage instead of skipping the record."""

from __future__ import annotations

import logging
import threading
from typing import Any

from confluent_kafka import Message

from schemas.errors import RegistryUnavailableError
from schemas.serde import TopicSerde
from stream_processors.runtime.errors import RuntimeProcessorError
from stream_processors.runtime.metrics import ProcessorMetrics

log = logging.getLogger(__name__)


class StoppedError(RuntimeProcessorError):
    """Stop was requested while waiting for the registry; the record was not processed."""


class RetryingDecoder:
    """``decode`` retries with a growing back-off while the registry cannot answer."""

    def __init__(self, stop: threading.Event, metrics: ProcessorMetrics, max_delay_s: float):
        self._stop = stop
        self._metrics = metrics
        self._max_delay_s = max_delay_s

    def decode(self, codec: TopicSerde[Any], msg: Message, *, tombstone: bool = False) -> Any:
        """The record (None for a tombstone when ``tombstone``); bad data raises
        SerializationError, a stop during an outage StoppedError."""
        decode = codec.decode_or_tombstone if tombstone else codec.decode
        delay = 0.1
        while True:
            try:
                return decode(msg.value(), partition=msg.partition(), offset=msg.offset())
            except RegistryUnavailableError as exc:
                self._metrics.registry_retries.inc()
                log.warning("schema registry unavailable, retrying in %.1fs: %s", delay, exc)
                if self._stop.wait(delay):
                    raise StoppedError("stopped while the schema registry was down") from exc
                delay = min(delay * 2, self._max_delay_s)
