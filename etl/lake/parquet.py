"""Archive messages as typed Parquet: the cold tier's row layout (``lake/<topic>/dt=<day>/``).

One row per archived message, so a day's Parquet rows equal the day's archive records. The
Avro value's top-level fields become columns, nested records are flattened into
``<field>_<sub>`` columns (``bbox_x1``), arrays stay Arrow lists (``objects`` of Detections is
a list of structs, readable by DuckDB's ``unnest`` and ClickHouse's ``arrayJoin``), times are
UTC microsecond timestamps and enums strings. Unions of several non-null types (camera
detector options) have no Arrow type every reader understands: they are kept as JSON text.
The Kafka metadata stays beside the fields: ``_partition``, ``_offset``, ``_kafka_ts`` and
``_key``. Rows are sorted by camera and event time, then by offset, so a reader filtering one
camera's hours reads few row groups.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

META_FIELDS: tuple[pa.Field, ...] = (
    pa.field("_partition", pa.int32(), nullable=False),
    pa.field("_offset", pa.int64(), nullable=False),
    pa.field("_kafka_ts", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("_key", pa.string()),
)
RAW_VALUE = pa.field("_value", pa.binary())
"""The one value column of a topic without an Avro schema (the DLQ's original bytes)."""

_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bytes": pa.binary(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}
_LOGICAL: dict[str, pa.DataType] = {
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "uuid": pa.string(),
}


@dataclass(frozen=True, slots=True)
class Column:
    """One Parquet column: its field and how to get its value from a datum."""

    field: pa.Field
    path: tuple[str, ...]
    as_json: bool = False


def _nullable(avro: Any) -> tuple[Any, bool]:
    if isinstance(avro, list):
        kinds = [t for t in avro if t != "null"]
        if len(kinds) == 1:
            return kinds[0], True
    return avro, False


def arrow_type(avro: Any) -> tuple[pa.DataType, bool]:
    """The Arrow type of an Avro type, and whether it is kept as JSON text."""
    inner, _ = _nullable(avro)
    if isinstance(inner, list):
        return pa.string(), True
    if isinstance(inner, str):
        return _PRIMITIVES.get(inner, pa.string()), False
    logical = inner.get("logicalType")
    if logical in _LOGICAL:
        return _LOGICAL[logical], False
    kind = inner["type"]
    if kind == "enum":
        return pa.string(), False
    if kind == "record":
        fields = []
        for f in inner["fields"]:
            t, as_json = arrow_type(f["type"])
            if as_json:
                return pa.string(), True
            fields.append(pa.field(f["name"], t))
        return pa.struct(fields), False
    if kind in ("array", "map"):
        t, as_json = arrow_type(inner["items" if kind == "array" else "values"])
        if as_json:
            return pa.string(), True
        return (pa.list_(t) if kind == "array" else pa.map_(pa.string(), t)), False
    if kind == "fixed":
        return pa.binary(inner["size"]), False
    return _PRIMITIVES.get(kind, pa.string()), False


def columns(value_schema: Mapping[str, Any] | None) -> list[Column]:
    """The value columns of a topic's Avro record schema (None: the raw value column)."""
    if value_schema is None:
        return [Column(RAW_VALUE, ("_value",))]
    out: list[Column] = []
    for f in value_schema["fields"]:
        inner, _ = _nullable(f["type"])
        if isinstance(inner, dict) and inner.get("type") == "record":
            # One level of flattening: bbox -> bbox_x1..., anchor -> anchor_x, anchor_y.
            for sub in inner["fields"]:
                t, as_json = arrow_type(sub["type"])
                out.append(
                    Column(
                        pa.field(f"{f['name']}_{sub['name']}", t), (f["name"], sub["name"]), as_json
                    )
                )
            continue
        t, as_json = arrow_type(f["type"])
        out.append(Column(pa.field(f["name"], t, nullable=True), (f["name"],), as_json))
    return out


def lake_schema(value_schema: Mapping[str, Any] | None) -> pa.Schema:
    """The Parquet schema of a topic: metadata columns, then the value's columns."""
    return pa.schema([*META_FIELDS, *(c.field for c in columns(value_schema))])


@dataclass(frozen=True, slots=True)
class Message:
    """The archive's record of one message (sinks/s3archive.py ``ArchivedMessage``)."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


def _get(datum: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = datum
    for name in path:
        if value is None:
            return None
        value = value.get(name)
    return value


def to_table(
    messages: Sequence[Message],
    value_schema: Mapping[str, Any] | None,
    decode: Callable[[Message], Mapping[str, Any] | None],
) -> pa.Table:
    """The typed, sorted table of messages; ``decode`` gives each value's Avro datum
    (Avro field names, times as int micros; None for a tombstone)."""
    cols = columns(value_schema)
    meta: dict[str, list[Any]] = {f.name: [] for f in META_FIELDS}
    values: list[list[Any]] = [[] for _ in cols]
    raw = value_schema is None
    for m in messages:
        meta["_partition"].append(m.partition)
        meta["_offset"].append(m.offset)
        meta["_kafka_ts"].append(m.timestamp_ms)
        meta["_key"].append(None if m.key is None else m.key.decode("utf-8", "replace"))
        if raw:
            values[0].append(m.value)
            continue
        datum = decode(m)
        for i, c in enumerate(cols):
            v = _get(datum, c.path)
            values[i].append(json.dumps(v, sort_keys=True) if c.as_json and v is not None else v)
    arrays = [pa.array(meta[f.name], type=f.type) for f in META_FIELDS]
    arrays += [pa.array(vs, type=c.field.type) for vs, c in zip(values, cols, strict=True)]
    table = pa.Table.from_arrays(arrays, schema=lake_schema(value_schema))
    return sort_table(table)


def sort_keys(schema: pa.Schema) -> list[tuple[str, str]]:
    """Camera, then the first event-time column, then partition and offset."""
    keys = []
    if "camera_id" in schema.names:
        keys.append("camera_id")
    times = [f.name for f in schema if pa.types.is_timestamp(f.type) and not f.name.startswith("_")]
    keys += times[:1]
    keys += ["_partition", "_offset"]
    return [(k, "ascending") for k in keys]


def sort_table(table: pa.Table) -> pa.Table:
    """The table in lake order (:func:`sort_keys`)."""
    if table.num_rows < 2:
        return table
    return table.take(pc.sort_indices(table, sort_keys=sort_keys(table.schema)))


def to_parquet(table: pa.Table, *, row_group_rows: int = 128 * 1024) -> bytes:
    """Parquet bytes of a table: zstd, statistics on, row groups of ``row_group_rows``."""
    out = io.BytesIO()
    pq.write_table(
        table,
        out,
        compression="zstd",
        row_group_size=row_group_rows,
        write_statistics=True,
    )
    return out.getvalue()


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Consecutive lists of at most ``size`` items (one Parquet file each)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def file_key(lake_prefix: str, topic: str, day: str, n: int) -> str:
    """``lake/<topic>/dt=<yyyy-mm-dd>/<n>.parquet``."""
    return f"{lake_prefix.rstrip('/')}/{topic}/dt={day}/{n}.parquet"
