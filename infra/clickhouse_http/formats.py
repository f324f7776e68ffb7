"""ClickHouse output formats: canonical names, HTTP content types, and which ones stream.

The names are the output formats of the ClickHouse engine chDB embeds (``system.formats``
where ``is_output``); format names are case-insensitive in ClickHouse, so lookups are too.
"""

from __future__ import annotations

OUTPUT_FORMATS: tuple[str, ...] = (
    "Arrow", "ArrowStream", "Avro", "AvroConfluent", "BSONEachRow", "Buffers", "CSV",
    "CSVWithNames", "CSVWithNamesAndTypes", "CustomSeparated", "CustomSeparatedWithNames",
    "CustomSeparatedWithNamesAndTypes", "GeoJSON", "Hash", "HiveText", "JSON", "JSONColumns",
    "JSONColumnsWithMetadata", "JSONCompact", "JSONCompactColumns", "JSONCompactEachRow",
    "JSONCompactEachRowWithNames", "JSONCompactEachRowWithNamesAndTypes",
    "JSONCompactEachRowWithProgress", "JSONCompactStrings", "JSONCompactStringsEachRow",
    "JSONCompactStringsEachRowWithNames", "JSONCompactStringsEachRowWithNamesAndTypes",
    "JSONCompactStringsEachRowWithProgress", "JSONEachRow", "JSONEachRowWithProgress", "JSONL",
    "JSONLines", "JSONObjectEachRow", "JSONStrings", "JSONStringsEachRow",
    "JSONStringsEachRowWithProgress", "LineAsString", "LineAsStringWithNames",
    "LineAsStringWithNamesAndTypes", "MD", "Markdown", "MsgPack", "MySQLWire", "NDJSON", "Native",
    "Npy", "Null", "ODBCDriver2", "ORC", "PNG", "Parquet", "PostgreSQLWire", "Pretty",
    "PrettyCompact", "PrettyCompactMonoBlock", "PrettyCompactNoEscapes",
    "PrettyCompactNoEscapesMonoBlock", "PrettyJSONEachRow", "PrettyJSONLines", "PrettyMonoBlock",
    "PrettyNDJSON", "PrettyNoEscapes", "PrettyNoEscapesMonoBlock", "PrettySpace",
    "PrettySpaceMonoBlock", "PrettySpaceNoEscapes", "PrettySpaceNoEscapesMonoBlock", "Prometheus",
    "Protobuf", "ProtobufList", "ProtobufSingle", "Raw", "RawBLOB", "RawWithNames",
    "RawWithNamesAndTypes", "RowBinary", "RowBinaryWithNames", "RowBinaryWithNamesAndTypes",
    "SQLInsert", "TSKV", "TSV", "TSVRaw", "TSVRawWithNames", "TSVRawWithNamesAndTypes",
    "TSVWithNames", "TSVWithNamesAndTypes", "TabSeparated", "TabSeparatedRaw",
    "TabSeparatedRawWithNames", "TabSeparatedRawWithNamesAndTypes", "TabSeparatedWithNames",
    "TabSeparatedWithNamesAndTypes", "Template", "Values", "Vertical", "XML",
)  # fmt: skip

_CANONICAL = {name.lower(): name for name in OUTPUT_FORMATS}

# chDB's Python layer turns these names into pandas/pyarrow objects instead of bytes; they are
# not ClickHouse formats, so a client asking for them gets UNKNOWN_FORMAT like from ClickHouse.
PYTHON_ONLY_FORMATS = frozenset({"dataframe", "arrowtable", "datastore", "debug"})

DEFAULT_FORMAT = "TabSeparated"

# chDB's streaming API encodes every block on its own. Concatenated blocks are one valid stream
# only for formats without a header, footer or separator between blocks; the rest are
# materialised with one non-streaming call.
_STREAM_SAFE = frozenset(
    name.lower()
    for name in (
        "Native", "RowBinary", "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "Raw", "CSV",
        "JSONEachRow", "JSONL", "JSONLines", "NDJSON", "JSONCompactEachRow", "JSONStringsEachRow",
        "JSONCompactStringsEachRow", "LineAsString", "TSKV", "Null",
    )
)  # fmt: skip

_TEXT = "text/plain; charset=UTF-8"
_BINARY = "application/octet-stream"
_BINARY_PREFIXES = (
    "native", "rowbinary", "arrow", "parquet", "orc", "avro", "protobuf", "msgpack", "bsoneachrow",
    "npy", "buffers", "rawblob", "mysqlwire", "postgresqlwire", "odbcdriver2", "png",
)  # fmt: skip


def canonical_format(name: str) -> str | None:
    """The engine's spelling of an output format name, or None when it is not one."""
    return _CANONICAL.get(name.lower())


def is_stream_safe(name: str) -> bool:
    """True when the format's per-block encodings concatenate into one valid stream."""
    return name.lower() in _STREAM_SAFE


def content_type(name: str) -> str:
    """The Content-Type ClickHouse sends for a result in this output format."""
    low = name.lower()
    if low.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if low.startswith("csv"):
        header = "present" if "withnames" in low else "absent"
        return f"text/csv; charset=UTF-8; header={header}"
    if low.startswith(_BINARY_PREFIXES):
        return _BINARY
    if low in ("ndjson", "jsonl", "jsonlines") or (low.startswith("json") and "eachrow" in low):
        return "application/x-ndjson; charset=UTF-8"
    if low.startswith("json") or low == "geojson":
        return "application/json; charset=UTF-8"
    if low == "xml":
        return "application/xml; charset=UTF-8"
    if low in ("markdown", "md"):
        return "text/markdown; charset=UTF-8"
    return _TEXT


NON_RESULT_CONTENT_TYPE = _TEXT
