"""Decoding that waits out a schema registry outage instead of skipping the record."""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any

from schemas.errors import RegistryUnavailableError
from schemas.serde import TopicSerde
from stream_processors.runtime.metrics import ProcessorMetrics
from vidsight.kafka.backoff import Backoff, retry_until_stopped
from vidsight.kafka.clients import MessageClient
from vidsight.kafka.errors import StoppedError

__all__ = ["RetryingDecoder", "StoppedError"]

log = logging.getLogger(__name__)

_FIRST_DELAY_S = 0.1


class RetryingDecoder:
    """``decode`` retries with a growing back-off while the registry cannot answer."""

    def __init__(self, stop: threading.Event, metrics: ProcessorMetrics, max_delay_s: float):
        self._stop = stop
        self._metrics = metrics
        self._backoff = Backoff(
            initial_s=_FIRST_DELAY_S, max_s=max(_FIRST_DELAY_S, max_delay_s), jitter=0.0
        )

    def _retrying(self, attempt: int, delay: float, exc: BaseException) -> None:
        self._metrics.registry_retries.inc()
        log.warning("schema registry unavailable, retrying in %.1fs: %s", delay, exc)

    def decode(self, codec: TopicSerde[Any], msg: MessageClient, *, tombstone: bool = False) -> Any:
        """The record (None for a tombstone when ``tombstone``); bad data raises
        SerializationError, a stop during an outage StoppedError."""
        decode = codec.decode_or_tombstone if tombstone else codec.decode
        return retry_until_stopped(
            partial(decode, msg.value(), partition=msg.partition(), offset=msg.offset()),
            retry_on=RegistryUnavailableError,
            backoff=self._backoff,
            stop=self._stop,
            on_retry=self._retrying,
        )
