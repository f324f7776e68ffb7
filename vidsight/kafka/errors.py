"""Errors of the Kafka runtime."""

from __future__ import annotations

from vidsight.errors import VidsightError


class KafkaRuntimeError(VidsightError):
    """Root of the Kafka runtime's errors."""


class DeliveryError(KafkaRuntimeError):
    """The broker did not acknowledge produced records; nothing after them may be committed."""


class TopicMissingError(KafkaRuntimeError):
    """A topic the process needs does not exist (create the catalog: `vidsight topics create`)."""


class FatalConsumerError(KafkaRuntimeError):
    """The consumer reported a fatal error: the client cannot go on."""


class StoppedError(KafkaRuntimeError):
    """Stop was requested while waiting to retry; the work in hand was not done."""
