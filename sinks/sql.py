"""``vidsight sql``: an analyst's query on ClickHouse, printed as a table, CSV or JSON lines.

Queries run with ``readonly=1``, which the engine enforces: reads only, no ``SET`` and no
``SETTINGS`` changes, so neither a typo nor a crafted query can drop or change the projection.
The endpoint also refuses, for every client, what reaches the host's files or the network
(``file()``, ``url()``, ``s3()``, ``postgresql()``, ``INTO OUTFILE``...). The sinks' database is
the default, so ``FROM detections`` works.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from sinks.errors import SqlError
from sinks.settings import SinkSettings

FORMATS = {"csv": "CSVWithNames", "json": "JSONEachRow"}
_SERVER_MESSAGE = re.compile(
    r"(Code: \d+\. DB::Exception: .*?)(?: \(version [^)]*\))?\s*(?:\(for url|$)", re.S
)
_SETTINGS = {"readonly": "1"}


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Column names and types and the rows of a query."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


def server_message(exc: Exception) -> str:
    """The server's own words from a clickhouse-connect error (without URL and version)."""
    text = str(exc)
    match = _SERVER_MESSAGE.search(text)
    return (match.group(1) if match else text).strip()


_SYNTAX = re.compile(
    r"Code: 62\. DB::Exception: Syntax error[^:]*: failed at position (\d+)"
    r".*?(?:Expected (one of: )?(?P<expected>.*?))?\.?\s*\(SYNTAX_ERROR\)",
    re.S,
)
_EXPECTED_SHOWN = 8


def query_error(query: str, message: str) -> str:
    """The server's message, a syntax error shown on the user's own query with a caret.

    The client appends `` FORMAT ...`` to what it sends, so the server quotes text the user
    never typed; the position it gives is a byte offset into that text, which starts with
    the user's query.
    """
    match = _SYNTAX.search(message)
    if match is None:
        return message
    offset = int(match.group(1)) - 1  # 1-based byte position
    raw = query.encode()
    at = len(query) if offset >= len(raw) else len(raw[:offset].decode(errors="ignore"))
    line_no = query.count("\n", 0, at) + 1
    start = query.rfind("\n", 0, at) + 1
    end = query.find("\n", at)
    line = query[start : end if end >= 0 else len(query)]
    where = (
        "at the end of the query"
        if at >= len(query.rstrip())
        else f"at line {line_no}, column {at - start + 1}"
    )
    lines = [
        f"syntax error {where} (Code: 62, SYNTAX_ERROR):",
        f"  {line}",
        "  " + " " * (at - start) + "^",
    ]
    expected = (match.group("expected") or "").strip()
    if expected:
        items = [e.strip() for e in expected.replace("\n", " ").split(",") if e.strip()]
        more = len(items) - _EXPECTED_SHOWN
        shown = ", ".join(items[:_EXPECTED_SHOWN]) + (f" (and {more} more)" if more > 0 else "")
        lines.append(f"expected: {shown}")
    return "\n".join(lines)


def _client(settings: SinkSettings, database: str | None) -> Any:
    from sinks.clickhouse.sink import client_for

    try:
        return client_for(settings, database=database or settings.clickhouse_database)
    except OperationalError as exc:
        raise SqlError(f"cannot reach ClickHouse at {settings.clickhouse_url}: {exc}") from exc
    except DatabaseError as exc:
        raise SqlError(server_message(exc)) from exc


def run_query(settings: SinkSettings, query: str, *, database: str | None = None) -> QueryResult:
    """Run a query and return its whole result."""
    client = _client(settings, database)
    try:
        result = client.query(query, settings=_SETTINGS)
    except OperationalError as exc:
        raise SqlError(f"cannot reach ClickHouse at {settings.clickhouse_url}: {exc}") from exc
    except DatabaseError as exc:
        raise SqlError(query_error(query, server_message(exc))) from exc
    finally:
        client.close()
    types = tuple(t.name for t in result.column_types)
    return QueryResult(tuple(result.column_names), types, result.result_rows)


def stream_query(
    settings: SinkSettings, query: str, *, fmt: str, database: str | None = None
) -> Iterator[bytes]:
    """The server's own CSV (with a header) or JSON lines, streamed as it produces them."""
    client = _client(settings, database)
    try:
        stream = client.raw_stream(query, settings=_SETTINGS, fmt=FORMATS[fmt])
        with stream:
            yield from stream
    except OperationalError as exc:
        raise SqlError(f"cannot reach ClickHouse at {settings.clickhouse_url}: {exc}") from exc
    except DatabaseError as exc:
        raise SqlError(query_error(query, server_message(exc))) from exc
    finally:
        client.close()


def format_value(value: Any) -> str:
    """One cell as text: NULL for None, ISO times, floats without noise."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def render_table(result: QueryResult) -> str:
    """A psql-style text table: a header, a rule, rows (numbers right-aligned), a row count."""
    header = list(result.columns)
    cells = [[format_value(v) for v in row] for row in result.rows]
    widths = [len(h) for h in header]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    right = [
        any(_numeric(row[i]) for row in result.rows)
        and all(_numeric(row[i]) or row[i] is None for row in result.rows)
        for i in range(len(header))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return " | ".join(parts).rstrip()

    out = [line(header), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    n = len(cells)
    out.append(f"({n} row{'' if n == 1 else 's'})")
    return "\n".join(out) + "\n"
