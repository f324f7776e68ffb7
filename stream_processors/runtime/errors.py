"""Errors of the detections-path runtime (the Kafka ones are the core runtime's)."""

from __future__ import annotations

from stream_processors.errors import StreamProcessorError
from vidsight.kafka.errors import DeliveryError, TopicMissingError

__all__ = ["DeliveryError", "RestoreError", "RuntimeProcessorError", "TopicMissingError"]


class RuntimeProcessorError(StreamProcessorError):
    """Root of the runtime's errors."""


class RestoreError(RuntimeProcessorError):
    """The state of newly assigned partitions could not be read back from the changelog."""
