"""Errors of the sinks package.

Two kinds of failure matter to the consume loop and they are handled in opposite ways:

- a *data* error (``RecordDataError``, ``BatchDataError``) concerns a record: it goes to
  vidsight.dlq with its context and everything behind it flows on;
- a *store* error (``StoreUnavailableError``) concerns the store: nothing is skipped, the loop
  backs off and tries again (``retry_after`` is the store's hint, None for "use the schedule").
"""

from __future__ import annotations

from vidsight.errors import VidsightError


class SinkError(VidsightError):
    """Root of the sinks package's errors."""


class StoreUnavailableError(SinkError):
    """The store cannot take writes right now (down, timing out, overloaded): back off, retry."""

    def __init__(self, store: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{store} unavailable: {message}")
        self.store = store
        self.retry_after = retry_after


class RecordDataError(SinkError):
    """One record cannot be projected (a value the store's schema cannot hold): dead-letter it."""


class BatchDataError(SinkError):
    """The store rejected a batch for a data reason; the loop bisects it to find the record."""


class MigrationError(SinkError):
    """A schema migration failed or an applied one was changed after it ran."""


class SqlError(SinkError):
    """An analyst query failed; the message is the server's."""


class ReplayError(SinkError):
    """A rebuild could not be started or finished."""
