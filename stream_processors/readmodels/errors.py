"""Errors of the live read models (``stream_processors.readmodels``)."""

from __future__ import annotations

from stream_processors.errors import StreamProcessorError
from vidsight.errors import ConfigError


class ReadModelError(StreamProcessorError):
    """The read-model worker cannot start or run as configured."""


class StateFormatError(ReadModelError):
    """A table value read back from its changelog does not have the expected shape."""


class KafkaSecurityError(ReadModelError, ConfigError):
    """The deployment's Kafka security settings cannot be given to faust as configured."""
