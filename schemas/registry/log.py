"""Where the registry's records live: the interface, and an in-memory implementation.

``KafkaEventLog`` (``schemas.registry.kafka_log``) is the real one. ``MemoryEventLog`` keeps
the encoded records in a list, through the same codec, for tests of the layers above and for a
throw-away registry; it forgets everything when the process ends.

Every method blocks; the service calls them from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from schemas.registry.errors import CorruptLogError
from schemas.registry.events import Event, LogMarker, decode, encode


class EventLog(Protocol):
    def open(self) -> None:
        """Make sure the log exists and can be written (create it when missing)."""

    def append(self, event: Event) -> int:
        """Write one record durably; return its offset only once it is acknowledged."""

    def read_from(self, offset: int) -> Iterator[tuple[int, Event]]:
        """Every record from ``offset`` to the end of the log as it is now, in order."""

    def close(self) -> None:
        """Release the clients; nothing is pending once it returns."""


class MemoryEventLog:
    """An EventLog in a list (offsets are list indexes)."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []

    def open(self) -> None:
        return None

    def append(self, event: Event) -> int:
        self.records.append(encode(event))
        return len(self.records) - 1

    def read_from(self, offset: int) -> Iterator[tuple[int, Event]]:
        for position in range(max(offset, 0), len(self.records)):
            try:
                record = decode(self.records[position][1])
            except CorruptLogError as exc:
                raise CorruptLogError(f"memory log offset {position}: {exc}") from exc
            if not isinstance(record, LogMarker):
                yield position, record

    def close(self) -> None:
        return None
