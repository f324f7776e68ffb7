"""The Native format as ClickHouse's HTTP interface writes it for a ``client_protocol_version``.

ClickHouse's NativeWriter depends on the client's revision: above 0 every block starts with a
BlockInfo; from 54337 a ``DateTime`` keeps its time zone in the type name; from 54454 each
column carries a custom-serialization flag. chDB always writes revision 0, which drops the
time zone of a top-level ``DateTime('UTC')`` for good, so a client reads UTC instants as its
local time. The executor therefore asks chDB for type names in the binary type encoding
(``output_format_native_encode_types_in_binary_format``), which keeps every time zone, and
this module rewrites each block the way the real server writes it for the revision: it
decodes the binary types back to ClickHouse's type names and walks the column data to find
where the next column's header starts.

Types whose data layout this module does not know (Variant, Dynamic, JSON, aggregate
function states, ...) raise ``UnsupportedNativeTypeError``; the executor then re-runs the query
with plain type names (only top-level ``DateTime`` time zones are lost there).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from vidsight.errors import VidsightError

REVISION_WITH_BLOCK_INFO = 1  # any revision > 0 (ClickHouse's NativeWriter: client_revision > 0)
REVISION_WITH_DATETIME_TIMEZONE = 54337
REVISION_WITH_LOW_CARDINALITY = 54405
REVISION_WITH_CUSTOM_SERIALIZATION = 54454

# BlockInfo::write: field 1 is_overflows = false, field 2 bucket_num = -1, then field 0.
BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"


class UnsupportedNativeTypeError(VidsightError):
    """A binary-encoded type whose name or data layout this module cannot reproduce."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        shift = result = 0
        while True:
            if self.pos >= len(self.data):
                raise UnsupportedNativeTypeError("truncated Native block")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise UnsupportedNativeTypeError("truncated Native block")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def string(self) -> bytes:
        return self.take(self.varint())


@dataclass(frozen=True, slots=True)
class NativeType:
    """A column type: its ClickHouse name and how to step over its prefix and its data."""

    name: str
    data: Callable[[_Reader, int], None]
    prefix: Callable[[_Reader], None] = lambda _r: None


def _fixed(name: str, width: int) -> NativeType:
    def data(r: _Reader, rows: int) -> None:
        r.take(rows * width)

    return NativeType(name, data)


def _strings(r: _Reader, rows: int) -> None:
    for _ in range(rows):
        r.take(r.varint())


def _array(name: str, inner: NativeType) -> NativeType:
    def data(r: _Reader, rows: int) -> None:
        if rows:
            offsets = r.take(rows * 8)
            inner.data(r, int(struct.unpack_from("<Q", offsets, len(offsets) - 8)[0]))

    return NativeType(name, data, inner.prefix)


def _tuple(name: str, elements: list[NativeType]) -> NativeType:
    def data(r: _Reader, rows: int) -> None:
        for element in elements:
            element.data(r, rows)

    def prefix(r: _Reader) -> None:
        for element in elements:
            element.prefix(r)

    return NativeType(name, data, prefix)


def _nullable(inner: NativeType) -> NativeType:
    def data(r: _Reader, rows: int) -> None:
        r.take(rows)  # the null map
        inner.data(r, rows)

    return NativeType(f"Nullable({inner.name})", data, inner.prefix)


_INDEX_WIDTHS = (1, 2, 4, 8)
_HAS_ADDITIONAL_KEYS = 1 << 9


def _low_cardinality(inner: NativeType, keys: NativeType) -> NativeType:
    def prefix(r: _Reader) -> None:
        r.u64()  # KeysSerializationVersion

    def data(r: _Reader, rows: int) -> None:
        if not rows:  # SerializationLowCardinality writes nothing for no rows
            return
        index_type = r.u64()
        if index_type & _HAS_ADDITIONAL_KEYS:
            keys.data(r, r.u64())
        r.take(r.u64() * _INDEX_WIDTHS[index_type & 0xFF])

    return NativeType(f"LowCardinality({inner.name})", data, prefix)


_SIMPLE: dict[int, NativeType] = {
    code: _fixed(name, width)
    for code, name, width in (
        (0x00, "Nothing", 1), (0x01, "UInt8", 1), (0x02, "UInt16", 2), (0x03, "UInt32", 4),
        (0x04, "UInt64", 8), (0x05, "UInt128", 16), (0x06, "UInt256", 32), (0x07, "Int8", 1),
        (0x08, "Int16", 2), (0x09, "Int32", 4), (0x0A, "Int64", 8), (0x0B, "Int128", 16),
        (0x0C, "Int256", 32), (0x0D, "Float32", 4), (0x0E, "Float64", 8), (0x0F, "Date", 2),
        (0x10, "Date32", 4), (0x11, "DateTime", 4), (0x1D, "UUID", 16), (0x28, "IPv4", 4),
        (0x29, "IPv6", 16), (0x2D, "Bool", 1), (0x31, "BFloat16", 2), (0x32, "Time", 4),
    )
}  # fmt: skip
_SIMPLE[0x15] = NativeType("String", _strings)
_DECIMAL_WIDTHS = {0x19: 4, 0x1A: 8, 0x1B: 16, 0x1C: 32}
_INTERVALS = (
    "Nanosecond", "Microsecond", "Millisecond", "Second", "Minute", "Hour", "Day", "Week",
    "Month", "Quarter", "Year",
)  # fmt: skip
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _name_of(name: str) -> str:
    """A tuple element's name as ClickHouse prints it (backQuoteIfNeed)."""
    if _IDENTIFIER.fullmatch(name):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _text(r: _Reader) -> str:
    return r.string().decode("utf-8", "replace")


def _geo(name: str) -> NativeType:
    point = _tuple("Point", [_SIMPLE[0x0E], _SIMPLE[0x0E]])
    ring = _array("Ring", point)
    polygon = _array("Polygon", ring)
    known = {
        "Point": point,
        "Ring": ring,
        "LineString": _array("LineString", point),
        "MultiLineString": _array("MultiLineString", ring),
        "Polygon": polygon,
        "MultiPolygon": _array("MultiPolygon", polygon),
    }
    if name not in known:
        raise UnsupportedNativeTypeError(f"custom type {name}")
    return known[name]


def decode_type(r: _Reader) -> NativeType:
    """One binary-encoded type (DataTypesBinaryEncoding) as a NativeType."""
    code = r.u8()
    if code in _SIMPLE:
        return _SIMPLE[code]
    if code == 0x12:
        return _fixed(f"DateTime({_quoted(_text(r))})", 4)
    if code in (0x13, 0x14):
        scale = r.u8()
        zone = f", {_quoted(_text(r))}" if code == 0x14 else ""
        return _fixed(f"DateTime64({scale}{zone})", 8)
    if code == 0x33:
        return _fixed(f"Time64({r.u8()})", 8)
    if code == 0x16:
        size = r.varint()
        return _fixed(f"FixedString({size})", size)
    if code in (0x17, 0x18):
        width = 1 if code == 0x17 else 2
        values = []
        for _ in range(r.varint()):
            label = _text(r)
            values.append(
                f"{_quoted(label)} = {int.from_bytes(r.take(width), 'little', signed=True)}"
            )
        return _fixed(f"Enum{width * 8}({', '.join(values)})", width)
    if code in _DECIMAL_WIDTHS:
        precision, scale = r.u8(), r.u8()
        return _fixed(f"Decimal({precision}, {scale})", _DECIMAL_WIDTHS[code])
    if code == 0x1E:
        inner = decode_type(r)
        return _array(f"Array({inner.name})", inner)
    if code in (0x1F, 0x20, 0x2F):
        count = r.varint()
        labels: list[str] = []
        elements: list[NativeType] = []
        for _ in range(count):
            label = _name_of(_text(r)) + " " if code != 0x1F else ""
            element = decode_type(r)
            labels.append(label + element.name)
            elements.append(element)
        if code == 0x2F:
            tuple_type = _tuple("", elements)
            return _array(f"Nested({', '.join(labels)})", tuple_type)
        return _tuple(f"Tuple({', '.join(labels)})", elements)
    if code == 0x22:
        kind = r.u8()
        if kind >= len(_INTERVALS):
            raise UnsupportedNativeTypeError(f"interval kind {kind}")
        return _fixed(f"Interval{_INTERVALS[kind]}", 8)
    if code == 0x23:
        return _nullable(decode_type(r))
    if code == 0x26:
        # A LowCardinality(Nullable(T)) dictionary holds plain T values.
        nullable = r.data[r.pos] == 0x23 if r.pos < len(r.data) else False
        r.pos += nullable
        keys = decode_type(r)
        return _low_cardinality(_nullable(keys) if nullable else keys, keys)
    if code == 0x27:
        key, value = decode_type(r), decode_type(r)
        return _array(f"Map({key.name}, {value.name})", _tuple("", [key, value]))
    if code == 0x2C:
        return _geo(_text(r))
    raise UnsupportedNativeTypeError(f"binary type code 0x{code:02x}")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _type_name(native: NativeType, revision: int) -> str:
    if revision < REVISION_WITH_DATETIME_TIMEZONE and native.name.startswith("DateTime("):
        return "DateTime"  # what NativeWriter sends clients that predate time zones
    return native.name


def rewrite_blocks(data: bytes, revision: int) -> bytes:
    """chDB's Native blocks (binary-encoded types) as ClickHouse writes them for ``revision``."""
    r = _Reader(data)
    out: list[bytes] = []
    while r.pos < len(data):
        columns, rows = r.varint(), r.varint()
        if revision > 0:
            out.append(BLOCK_INFO)
        out.append(_varint(columns) + _varint(rows))
        for _ in range(columns):
            column_name = r.string()
            native = decode_type(r)
            name = _type_name(native, revision).encode()
            out.append(_varint(len(column_name)) + column_name + _varint(len(name)) + name)
            if revision >= REVISION_WITH_CUSTOM_SERIALIZATION:
                out.append(b"\x00")  # chDB writes default serializations only
            start = r.pos
            if rows:
                native.prefix(r)
                native.data(r, rows)
            out.append(data[start : r.pos])
    return b"".join(out)


def block_info_only(data: bytes) -> bytes:
    """One chDB Native block with plain type names, prefixed by its BlockInfo (fallback)."""
    return BLOCK_INFO + data if data else data
