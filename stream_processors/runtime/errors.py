"""Errors of the detections-path runtime."""

from __future__ import annotations

from stream_processors.errors import StreamProcessorError


class RuntimeProcessorError(StreamProcessorError):
    """Root of the runtime's errors."""


class DeliveryError(RuntimeProcessorError):
    """The broker did not acknowledge produced records; nothing after them may be committed."""


class RestoreError(RuntimeProcessorError):
    """The state of newly assigned partitions could not be read back from the changelog."""


class TopicMissingError(RuntimeProcessorError):
    """A topic the worker needs does not exist (create the catalog: `vidsight topics create`)."""
