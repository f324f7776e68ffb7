"""Errors of the schemas package (catalog, records, serde, registry tooling)."""

from __future__ import annotations

from vidsight.errors import VidsightError


class SchemaError(VidsightError):
    """Root of the schemas package's errors."""


class UnknownTopicError(SchemaError, KeyError):
    """A topic or schema name that the catalog does not know."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a message reads better unquoted.
        return str(self.args[0]) if self.args else ""


class SerializationError(SchemaError):
    """A value could not be encoded or decoded.

    The one error the serde raises for bad data: wrong magic byte, unknown schema id, truncated
    or trailing bytes, garbage, or a record that does not fit its schema. ``topic``,
    ``partition`` and ``offset`` name the message when the caller gave them, so the record can
    be sent to the DLQ with its context.
    """

    def __init__(
        self,
        reason: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.reason = reason
        self.topic = topic
        self.partition = partition
        self.offset = offset
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.topic is not None:
            where.append(f"topic={self.topic}")
        if self.partition is not None:
            where.append(f"partition={self.partition}")
        if self.offset is not None:
            where.append(f"offset={self.offset}")
        return f"{self.reason} ({' '.join(where)})" if where else self.reason


class RecordValueError(SchemaError, ValueError):
    """A datum or record that does not fit its record class (a field missing, of the wrong type,
    a symbol no enum member has); the message names the record and the field. A ValueError, so
    the serde dead-letters the message that carried it."""


class RegistryUnavailableError(SchemaError):
    """The schema registry could not be reached or failed (5xx): retry later, do not DLQ."""


class RegistryAuthError(SchemaError):
    """The schema registry refused the credentials (401/403): fix the settings, do not retry."""


class IncompatibleSchemaError(SchemaError):
    """A schema change is not compatible with what the registry holds for its subject."""
