"""What a request carries besides its URL: the query stream, form fields and external data.

A multipart/form-data body holds the query and ``param_*`` values as form fields, and any
file part is *external data*: ClickHouse makes it a temporary table of the query, named after
the field, whose columns come from the ``<name>_structure`` ("a UInt8, b String") or
``<name>_types`` ("UInt8,String": columns _1, _2, ...) URL parameter and whose data is in
``<name>_format`` (TabSeparated by default). Those parameters are then not settings.

The endpoint creates each table on the request's own handle (so it lives and dies with the
query) and streams the part into it like an INSERT; the CREATE statement is built from the
client's structure, so it goes through the engine's parse and the access guard first.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from infra.clickhouse_http.access import check_statement
from infra.clickhouse_http.body import QueryInput, RawBody
from infra.clickhouse_http.codecs import request_decoder
from infra.clickhouse_http.engine import Handle
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.protocol import PARAM_PREFIX, QueryRequest, parse_multipart
from infra.clickhouse_http.sqltext import quote_identifier

_SUFFIXES = ("_structure", "_types", "_format")
_FORMAT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@dataclass(frozen=True, slots=True)
class ExternalTable:
    """One file part of the form, as the temporary table the query reads."""

    name: str
    structure: str  # column declarations, as in CREATE TABLE
    format: str
    data: bytes


@dataclass(frozen=True, slots=True)
class RequestInput:
    """The query stream, its bind parameters, and the external tables it reads."""

    query: QueryInput
    params: dict[str, str]
    tables: tuple[ExternalTable, ...] = ()


def read_input(req: QueryRequest, raw: RawBody, max_form_bytes: int) -> RequestInput:
    """The query stream of a plain body, or the fields and files of a multipart form."""
    decoder = request_decoder(req.content_encoding)
    if not req.is_multipart:
        prefix = (req.query + "\n").encode() if req.query else b""
        return RequestInput(
            QueryInput(prefix, raw, decoder, req.content_encoding), dict(req.params)
        )
    form = QueryInput(b"", raw, decoder, req.content_encoding).read_all(max_form_bytes)
    parts = parse_multipart(req.content_type, form)
    query = req.query + "".join(p.data.decode() for p in parts if p.name == "query")
    params = dict(req.params)
    params.update(
        {
            p.name[len(PARAM_PREFIX) :]: p.data.decode()
            for p in parts
            if p.name.startswith(PARAM_PREFIX)
        }
    )
    tables = tuple(
        external_table(p.name, p.data, req.settings) for p in parts if p.filename is not None
    )
    empty = RawBody(io.BytesIO(), 0, chunked=False)
    return RequestInput(QueryInput(query.encode(), empty, request_decoder(""), ""), params, tables)


def without_table_params(settings: Mapping[str, str]) -> dict[str, str]:
    """The settings of a request with external data: ``*_structure/_types/_format`` are not."""
    return {k: v for k, v in settings.items() if not k.endswith(_SUFFIXES)}


def external_table(name: str, data: bytes, url: Mapping[str, str]) -> ExternalTable:
    """The table a file part becomes, from its ``<name>_*`` URL parameters."""
    structure = url.get(f"{name}_structure", "")
    types = url.get(f"{name}_types", "")
    if not structure and types:
        # ClickHouse splits the types at every comma (no nesting), naming the columns _1, _2...
        names = [t.strip() for t in types.split(",") if t.strip()]
        structure = ", ".join(f"_{i} {t}" for i, t in enumerate(names, 1))
    if not structure:
        raise ClickHouseHttpError.of(
            ErrorCode.BAD_ARGUMENTS,
            f"Neither structure nor types have not been provided for external table {name}. "
            f"Use fields {name}_structure or {name}_types to do so.",
        )
    fmt = url.get(f"{name}_format", "") or "TabSeparated"
    if not _FORMAT_NAME.fullmatch(fmt):
        raise ClickHouseHttpError.of(ErrorCode.UNKNOWN_FORMAT, f"Unknown format {fmt[:64]}")
    return ExternalTable(name, structure, fmt, data)


def create_tables(
    handle: Handle, tables: tuple[ExternalTable, ...], denied: frozenset[str]
) -> None:
    """Create and fill each external table on the handle (before readonly is set on it)."""
    for table in tables:
        name = quote_identifier(table.name)
        create = f"CREATE TEMPORARY TABLE {name} ({table.structure}) ENGINE = Memory"
        canonical = handle.canonical(create)
        # The structure is the client's text: it must stay a column list of this one table.
        head = f"CREATE TEMPORARY TABLE {_canonical_name(handle, table.name)} ("
        if not (canonical.startswith(head) and canonical.endswith(") ENGINE = Memory")):
            raise ClickHouseHttpError.of(
                ErrorCode.BAD_ARGUMENTS,
                f"The structure of external table {table.name} is not a list of columns",
            )
        check_statement(canonical, denied, inline_data=False)
        handle.text(canonical)
        handle.insert(f"INSERT INTO {name}".encode(), table.format, [table.data])


def _canonical_name(handle: Handle, name: str) -> str:
    # The engine quotes an identifier only when it must; ask it how it writes this one.
    rendered = handle.canonical(f"SELECT 1 FROM {quote_identifier(name)}")
    return rendered.removeprefix("SELECT 1 FROM ")
