"""Typed access to the faust tables: one value per camera, stored as compact JSON bytes.

Keys and values are raw bytes in faust (``key_type=bytes``): the changelog key is then the
camera id's UTF-8 bytes, exactly the source topics' message key, so faust's router hashes a
camera id to the same partition the producers wrote it to and ``@app.table_route`` finds the
worker that holds it. (A ``str`` key would be JSON-encoded with quotes and hash elsewhere.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from stream_processors.readmodels.errors import StateFormatError


class JsonState(Protocol):
    """A per-camera table value: constructible empty, convertible to and from JSON data."""

    def __init__(self) -> None: ...

    def to_json(self) -> dict[str, Any]: ...

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self: ...


S = TypeVar("S", bound=JsonState)
R = TypeVar("R", bound="CameraRecord")


class CameraRecord(Protocol):
    """A source record: every one names its camera, the key of every table."""

    @property
    def camera_id(self) -> str: ...


def encode_state(state: JsonState) -> bytes:
    """The changelog bytes of a value."""
    return json.dumps(state.to_json(), separators=(",", ":")).encode()


def decode_state(state_type: type[S], data: bytes) -> S:
    """A value back from its changelog bytes; StateFormatError names what is wrong."""
    try:
        return state_type.from_json(json.loads(data))
    except StateFormatError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateFormatError(
            f"cannot read a {state_type.__name__} table value: {type(exc).__name__}: {exc}"
        ) from exc


@dataclass(frozen=True, slots=True)
class Sourced(Generic[R]):
    """A decoded source record with where it came from."""

    record: R
    partition: int
    offset: int
    timestamp: float | None  # the Kafka timestamp (produce time), seconds


def group_by_camera(items: Iterable[Sourced[R]]) -> dict[tuple[str, int], list[Sourced[R]]]:
    """A batch's records per (camera id, partition), each group in offset order.

    One camera's records share one partition when producers key by camera id; the partition
    is part of the key anyway, so a badly keyed record still goes to its own partition's state.
    """
    groups: dict[tuple[str, int], list[Sourced[R]]] = {}
    for item in items:
        groups.setdefault((item.record.camera_id, item.partition), []).append(item)
    return groups


Change = Callable[[S, R, int], S]
"""A pure table update: (value, record, source offset) -> new value, or the same one."""


@dataclass(frozen=True, slots=True)
class Projection(Generic[S, R]):
    """One table fed from one topic by one pure change."""

    table: StateTable[S]
    change: Change[S, R]


class StateTable(Generic[S]):
    """A faust table of ``S`` per camera id, seen through its codec.

    ``table`` is the faust ``Table`` (a MutableMapping of raw bytes). Writes name their
    changelog partition explicitly (the partition of the records that caused them) because a
    batch holds records of many partitions, while faust's ``table[key] = value`` would use the
    partition of whichever event the stream saw last.
    """

    def __init__(self, table: Any, state_type: type[S]) -> None:
        self.table = table
        self.state_type = state_type

    @property
    def name(self) -> str:
        """The faust table name (also in its changelog topic's name)."""
        return str(self.table.name)

    def get(self, camera_id: str) -> S | None:
        """The camera's value held on this worker, or None."""
        data = self.table.get(camera_id.encode())
        return None if data is None else decode_state(self.state_type, data)

    def apply(
        self, camera_id: str, partition: int, change: Change[S, R], items: Iterable[Sourced[R]]
    ) -> bool:
        """Fold ``change`` over one camera's records; write the result once, if it changed.

        One write per camera and batch, however many records changed it: under load the
        changelog carries a fraction of the records (as Kafka Streams' record cache does),
        which matters where every changelog record is a produce request of its own.
        """
        current = self.get(camera_id)
        before = self.state_type() if current is None else current
        after = before
        for item in items:
            after = change(after, item.record, item.offset)
        if after is before:
            return False
        key, value = camera_id.encode(), encode_state(after)
        # What faust's Table.__setitem__ does, with the partition given: store, then changelog.
        self.table.data[key] = value
        self.table.send_changelog(partition, key, value)
        return True
