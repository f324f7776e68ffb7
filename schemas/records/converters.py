"""The value converters of the record <-> Avro mapping: one per Avro type, both ways.

``schemas.records.mapping`` walks a schema and composes these; each converter checks the value
it is given and raises ``_MismatchError``, which the record mapping turns into a
``RecordValueError`` naming the record and the field path.
"""

from __future__ import annotations

import dataclasses
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from schemas.records.timestamps import to_micros

if typing.TYPE_CHECKING:
    from schemas.records.mapping import RecordMapping

Convert = Callable[[Any], Any]


class _MismatchError(Exception):
    """A value that does not fit, on its way up to the record that names it (the path is
    built only when something is wrong: the conversions build no strings)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []

    def at(self, segment: str) -> _MismatchError:
        self.path.insert(0, segment)
        return self


@dataclasses.dataclass(frozen=True, slots=True)
class _Converter:
    """How one Avro type converts both ways, and which Python values it takes."""

    to_avro: Convert
    from_avro: Convert
    takes: Callable[[Any], bool]  # for picking a union branch (the datum or the record side)


def _bad(wanted: str, value: Any) -> _MismatchError:
    return _MismatchError(f"expected {wanted}, got {type(value).__name__} {value!r:.60}")


def _primitive(kind: str) -> _Converter:
    if kind in ("float", "double"):
        return _Converter(_to_float, _to_float, _is_number)
    takes = _TAKES[kind]

    def check(v: Any) -> Any:
        if not takes(v):
            raise _bad(kind, v)
        return v

    return _Converter(check, check, takes)


def _to_float(v: Any) -> Any:
    if not _is_number(v):
        raise _bad("a number", v)
    return float(v)


def _is_none(v: Any) -> bool:
    return v is None


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bytes(v: Any) -> bool:
    return isinstance(v, bytes)


def _is_number(v: Any) -> bool:
    return _is_int(v) or isinstance(v, float)


_TAKES: dict[str, Callable[[Any], bool]] = {
    "null": _is_none,
    "boolean": _is_bool,
    "int": _is_int,
    "long": _is_int,
    "string": _is_str,
    "bytes": _is_bytes,
}


def _timestamp_micros() -> _Converter:
    def to_avro(v: Any) -> Any:
        if not _is_int(v):
            raise _bad("int microseconds", v)
        return v

    def from_avro(v: Any) -> Any:
        if isinstance(v, datetime):
            try:
                return to_micros(v)
            except ValueError as exc:
                raise _MismatchError(str(exc)) from None
        return to_avro(v)

    return _Converter(to_avro, from_avro, lambda v: _is_int(v) or isinstance(v, datetime))


def _uuid() -> _Converter:
    def to_avro(v: Any) -> Any:
        if not isinstance(v, str):
            raise _bad("a uuid string", v)
        return v

    def from_avro(v: Any) -> Any:
        return str(v) if isinstance(v, uuid.UUID) else to_avro(v)

    return _Converter(to_avro, from_avro, lambda v: isinstance(v, str | uuid.UUID))


def _record(mapping: RecordMapping[Any]) -> _Converter:
    cls = mapping.cls
    return _Converter(
        mapping._to_avro,
        mapping._from_avro,
        lambda v: isinstance(v, cls | Mapping),
    )


def _enum(enum: type[StrEnum], node: Mapping[str, Any]) -> _Converter:
    symbols = frozenset(node["symbols"])
    fallback = enum.__members__.get("UNKNOWN")

    def to_avro(v: Any) -> Any:
        if not isinstance(v, str) or v not in symbols:
            raise _bad(f"one of {sorted(symbols)}", v)
        return str(v)

    def from_avro(v: Any) -> Any:
        if not isinstance(v, str):
            raise _bad(f"a {enum.__name__} symbol", v)
        try:
            return enum(v)
        except ValueError:
            if fallback is None:
                raise _MismatchError(
                    f"{v!r} is not a {enum.__name__} (and it has no unknown member)"
                ) from None
            return fallback

    return _Converter(to_avro, from_avro, _is_str)


def _array(items: _Converter) -> _Converter:
    item_to, item_from = items.to_avro, items.from_avro

    def to_avro(v: Any) -> Any:
        if not isinstance(v, tuple | list):
            raise _bad("a tuple", v)
        try:
            return [item_to(x) for x in v]
        except _MismatchError as exc:
            raise exc.at(f"[{_failed_index(v, item_to)}]") from None

    def from_avro(v: Any) -> Any:
        if not isinstance(v, list | tuple):
            raise _bad("an array", v)
        try:
            return tuple([item_from(x) for x in v])
        except _MismatchError as exc:
            raise exc.at(f"[{_failed_index(v, item_from)}]") from None

    return _Converter(to_avro, from_avro, lambda v: isinstance(v, list | tuple))


def _failed_index(values: Any, convert: Convert) -> int:
    """Which item failed (found again only after a failure, so success pays nothing)."""
    for i, x in enumerate(values):
        try:
            convert(x)
        except _MismatchError:
            return i
    return -1


def _map(values: _Converter) -> _Converter:
    value_to, value_from = values.to_avro, values.from_avro

    def convert(v: Any, one: Convert, wanted: str) -> Any:
        if not isinstance(v, Mapping):
            raise _bad(wanted, v)
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise _bad("string keys", k)
            try:
                out[k] = one(x)
            except _MismatchError as exc:
                raise exc.at(f"[{k}]") from None
        return out

    def to_avro(v: Any) -> Any:
        return convert(v, value_to, "a mapping")

    def from_avro(v: Any) -> Any:
        return MappingProxyType(convert(v, value_from, "a map"))

    return _Converter(to_avro, from_avro, lambda v: isinstance(v, Mapping))


def _union(branches: list[_Converter], node: list[Any]) -> _Converter:
    described = " | ".join(n if isinstance(n, str) else str(n.get("name", n["type"])) for n in node)
    if len(branches) == 2 and node[0] == "null":  # ["null", T]: the common optional field
        other = branches[1]
        some_to, some_from = other.to_avro, other.from_avro

        def opt_to(v: Any) -> Any:
            return None if v is None else _as_branch(some_to, v, described)

        def opt_from(v: Any) -> Any:
            return None if v is None else _as_branch(some_from, v, described)

        return _Converter(opt_to, opt_from, lambda v: v is None or other.takes(v))

    def choose(v: Any) -> _Converter:
        for b in branches:
            if b.takes(v):
                return b
        raise _bad(described, v)

    def to_avro(v: Any) -> Any:
        return choose(v).to_avro(v)

    def from_avro(v: Any) -> Any:
        return choose(v).from_avro(v)

    return _Converter(to_avro, from_avro, lambda v: any(b.takes(v) for b in branches))


def _as_branch(convert: Convert, v: Any, described: str) -> Any:
    try:
        return convert(v)
    except _MismatchError as exc:
        if exc.path:  # inside the value: that message is the precise one
            raise
        raise _bad(described, v) from None
