"""Generic record <-> Avro datum mapping, by field name, driven by the record's ``.avsc``.

A record class gets ``to_avro``/``from_avro`` from ``AvroMapped`` (or ``mapping_for(cls)``)
instead of writing them by hand, so adding a field to a schema and to the dataclass is the whole
change. What the schema says decides the conversion of each field:

- records: a nested dataclass (found in the field's type hint), mapped the same way;
- ``["null", T]`` and other unions: ``None``, or the branch the value's type matches;
- enums: the ``StrEnum`` of the hint; a symbol the enum lacks (added to the schema later, read
  from a newer writer) becomes its ``unknown`` member;
- arrays: tuples; maps: read-only mappings;
- ``timestamp-micros``: ``int`` microseconds (a ``datetime`` from a reader that applies
  logical types is converted); ``uuid``: ``str`` (a ``UUID`` is converted);
- a field missing from the datum (an older writer, a hand-written datum) takes the schema's
  default, else the dataclass default.

Anything else is a ``RecordValueError`` naming the record and the field path. Checking every
value costs a few microseconds per record more than hand-written conversions, which is nothing
for the low-volume topics (alerts, feedback, configuration); FrameRef and Detections, one per
frame, keep their hand-tuned code (bench/bench_serde.py: a Detections decode through this
mapping runs at about 40% of the hand-tuned rate).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

from schemas.errors import RecordValueError, SchemaError
from schemas.records.converters import (
    Convert,
    _array,
    _Converter,
    _enum,
    _map,
    _MismatchError,
    _primitive,
    _record,
    _timestamp_micros,
    _union,
    _uuid,
)

T = TypeVar("T")

_PRIMITIVES = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)  # fmt: skip
_MISSING = object()


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    name: str
    to_avro: Convert
    from_avro: Convert
    default: Any  # the datum-side default (an Avro default or _MISSING)
    has_class_default: bool


class RecordMapping(Generic[T]):
    """Both conversions of one record class under one Avro record schema."""

    def __init__(
        self, cls: type[T], schema: Mapping[str, Any], named: dict[str, Mapping[str, Any]]
    ) -> None:
        if not dataclasses.is_dataclass(cls):
            raise SchemaError(f"{cls.__name__} is not a dataclass")
        self.cls = cls
        self.name = cls.__name__
        hints = typing.get_type_hints(cls)
        declared = {f.name: f for f in dataclasses.fields(cls)}
        avro_names = [f["name"] for f in schema["fields"]]
        if set(avro_names) != set(declared):
            raise SchemaError(
                f"{self.name} fields {sorted(declared)} differ from schema {schema['name']} "
                f"fields {sorted(avro_names)}"
            )
        out = []
        for spec in schema["fields"]:
            name = spec["name"]
            convert = _converter(spec["type"], hints[name], named)
            default = _MISSING
            if "default" in spec:
                try:
                    default = convert.from_avro(spec["default"])
                except _MismatchError as exc:
                    raise SchemaError(f"{self.name}.{name} default: {exc.problem}") from None
            f = declared[name]
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            out.append(_Field(name, convert.to_avro, convert.from_avro, default, has_default))
        self._fields = tuple(out)

    def to_avro(self, record: T) -> dict[str, Any]:
        """The Avro datum of ``record``."""
        try:
            return self._to_avro(record)
        except _MismatchError as exc:
            raise self._error(exc) from None

    def from_avro(self, data: Mapping[str, Any]) -> T:
        """The record of an Avro datum (missing fields take their defaults)."""
        try:
            return self._from_avro(data)
        except _MismatchError as exc:
            raise self._error(exc) from None

    def _error(self, exc: _MismatchError) -> RecordValueError:
        path = "".join(exc.path)
        return RecordValueError(f"{self.name}{path}: {exc.problem}")

    def _to_avro(self, record: Any) -> dict[str, Any]:
        if not isinstance(record, self.cls):
            raise _MismatchError(f"expected a {self.name}, got {type(record).__name__}")
        try:
            return {f.name: f.to_avro(getattr(record, f.name)) for f in self._fields}
        except _MismatchError:
            pass
        for f in self._fields:  # again, one by one, to say which field
            try:
                f.to_avro(getattr(record, f.name))
            except _MismatchError as exc:
                raise exc.at(f".{f.name}") from None
        raise AssertionError("unreachable: a field failed once and then passed")

    def _from_avro(self, data: Any) -> T:
        if not isinstance(data, Mapping):
            raise _MismatchError(f"expected a record, got {type(data).__name__}")
        try:  # the usual case: every field there and fitting, no per-field bookkeeping
            return self.cls(**{f.name: f.from_avro(data[f.name]) for f in self._fields})
        except (KeyError, _MismatchError):
            pass
        kwargs: dict[str, Any] = {}
        for f in self._fields:
            value = data.get(f.name, _MISSING)
            if value is _MISSING:
                if f.default is not _MISSING:
                    kwargs[f.name] = f.default
                elif not f.has_class_default:
                    missing = _MismatchError("missing, and the schema gives no default")
                    raise missing.at(f".{f.name}")
                continue
            try:
                kwargs[f.name] = f.from_avro(value)
            except _MismatchError as exc:
                raise exc.at(f".{f.name}") from None
        return self.cls(**kwargs)


def _named_key(schema: Mapping[str, Any]) -> tuple[str, str]:
    name = str(schema["name"])
    namespace = schema.get("namespace")
    full = name if "." in name or not namespace else f"{namespace}.{name}"
    return full, full.rsplit(".", 1)[-1]


def _classes(hint: Any) -> list[type]:
    """Every class in a type hint (``X | None``, ``tuple[X, ...]``, ``Mapping[str, X]``)."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return [hint]
    out: list[type] = []
    for arg in typing.get_args(hint):
        out += _classes(arg)
    return out


def _pick(hint: Any, name: str, want: Callable[[type], bool], what: str) -> type:
    found = [c for c in _classes(hint) if want(c)]
    named = [c for c in found if c.__name__ == name]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    raise SchemaError(f"no single {what} class for Avro type {name} in the type hint {hint!r}")


def _converter(node: Any, hint: Any, named: dict[str, Mapping[str, Any]]) -> _Converter:
    if isinstance(node, list):
        return _union([_converter(n, hint, named) for n in node], node)
    if isinstance(node, str):
        if node in _PRIMITIVES:
            return _primitive(node)
        try:
            return _converter(named[node], hint, named)
        except KeyError:
            raise SchemaError(f"unknown Avro type name {node!r}") from None
    kind = node["type"]
    logical = node.get("logicalType")
    if logical in ("timestamp-micros", "local-timestamp-micros"):
        return _timestamp_micros()
    if logical == "uuid":
        return _uuid()
    if kind in _PRIMITIVES:
        return _primitive(kind)
    if kind == "record":
        full, short = _named_key(node)
        named[full] = named[short] = node
        cls = _pick(hint, short, dataclasses.is_dataclass, "dataclass")
        return _record(RecordMapping(cls, node, named))
    if kind == "enum":
        full, short = _named_key(node)
        named[full] = named[short] = node
        enum = _pick(hint, short, lambda c: issubclass(c, StrEnum), "StrEnum")
        return _enum(typing.cast(type[StrEnum], enum), node)
    if kind == "array":
        return _array(_converter(node["items"], hint, named))
    if kind == "map":
        return _map(_converter(node["values"], hint, named))
    if isinstance(kind, list | dict):
        return _converter(kind, hint, named)
    if isinstance(kind, str) and kind in named:
        return _converter(named[kind], hint, named)
    raise SchemaError(f"unsupported Avro type {kind!r}")


_MAPPINGS: dict[type, RecordMapping[Any]] = {}


def mapping_for(cls: type[T]) -> RecordMapping[T]:
    """The mapping of a top-level record class (one with ``SCHEMA``), built on first use."""
    found = _MAPPINGS.get(cls)
    if found is None:
        from schemas import catalog

        stem = getattr(cls, "SCHEMA", None)
        if not isinstance(stem, str):
            raise SchemaError(f"{cls.__name__} has no SCHEMA naming its .avsc")
        found = _MAPPINGS[cls] = RecordMapping(cls, catalog.schema_dict(stem), {})
    return typing.cast(RecordMapping[T], found)


class AvroMapped:
    """Mixin giving a slotted record class ``to_avro``/``from_avro`` through ``mapping_for``."""

    __slots__ = ()
    SCHEMA: ClassVar[str]

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return mapping_for(type(self)).to_avro(self)

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Self:
        """Build from an Avro datum (missing fields take their defaults)."""
        return mapping_for(cls).from_avro(data)


__all__ = ["AvroMapped", "RecordMapping", "mapping_for"]
