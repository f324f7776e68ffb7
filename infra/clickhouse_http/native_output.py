"""Native results for a client that named its ``client_protocol_version`` (see native_protocol).

The query runs with binary-encoded type names, and every block is rewritten for the client's
revision before it leaves. The first block is rewritten before the response starts, so that a
type this endpoint cannot rewrite is found while the query can still run again with plain type
names (BlockInfo added, only top-level ``DateTime`` time zones lost).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack

from infra.clickhouse_http.engine import Handle, Streamed
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.formats import canonical_format
from infra.clickhouse_http.native_protocol import (
    REVISION_WITH_CUSTOM_SERIALIZATION,
    REVISION_WITH_LOW_CARDINALITY,
    UnsupportedNativeTypeError,
    block_info_only,
    rewrite_blocks,
)
from infra.clickhouse_http.protocol import QueryRequest
from infra.clickhouse_http.sqltext import Statement

log = logging.getLogger(__name__)

BINARY_TYPES = "output_format_native_encode_types_in_binary_format"


def revision_for(req: QueryRequest, statement: Statement) -> int:
    """The client's protocol revision when the result is in the Native format, else 0."""
    if not req.client_protocol_version or not statement.produces_result:
        return 0
    fmt = statement.output_format or canonical_format(req.default_format)
    return req.client_protocol_version if fmt == "Native" else 0


def wants_rewrite(revision: int, settings: Mapping[str, str]) -> bool:
    """True when a Native result must be rewritten for this revision.

    A client that asked for binary-encoded types itself gets chDB's blocks with BlockInfo only.
    """
    return revision > 0 and settings.get(BINARY_TYPES, "0") in ("0", "false", "")


def engine_settings(revision: int) -> dict[str, str]:
    """Settings the engine runs a protocol-versioned Native query with."""
    settings = {BINARY_TYPES: "1"}
    if revision < REVISION_WITH_LOW_CARDINALITY:
        # NativeWriter sends such old clients no LowCardinality columns.
        settings["low_cardinality_allow_in_native_format"] = "0"
    return settings


def stream(
    handle: Handle,
    sql: bytes,
    default_format: str,
    params: Mapping[str, str],
    *,
    revision: int,
    rewrite: bool,
    stack: ExitStack,
) -> tuple[Streamed, Iterator[bytes]]:
    """Start the query; its blocks as ClickHouse writes them for ``revision``."""
    streamed = handle.stream(sql, default_format, params)
    stack.callback(streamed.close)
    chunks = streamed.chunks()
    if not rewrite:  # the client asked for binary-encoded types: they stay
        return streamed, (block_info_only(chunk) for chunk in chunks)
    try:
        first = next(chunks, None)
        head = rewrite_blocks(first, revision) if first else None
    except UnsupportedNativeTypeError as exc:
        if revision >= REVISION_WITH_CUSTOM_SERIALIZATION:
            raise ClickHouseHttpError.of(
                ErrorCode.NOT_IMPLEMENTED,
                f"This server cannot write {exc} in the Native format for "
                f"client_protocol_version {revision}; use a revision below "
                f"{REVISION_WITH_CUSTOM_SERIALIZATION} or another format",
            ) from exc
        log.debug("native result with plain type names type=%s", exc)
        streamed.close()
        handle.text(f"SET {BINARY_TYPES} = 0")
        # A session's handle keeps what its settings bookkeeping believes it has.
        stack.callback(handle.text, f"SET {BINARY_TYPES} = 1")
        streamed = handle.stream(sql, default_format, params)
        stack.callback(streamed.close)
        return streamed, (block_info_only(chunk) for chunk in streamed.chunks())
    return streamed, _then(head, chunks, revision)


def _then(head: bytes | None, chunks: Iterator[bytes], revision: int) -> Iterator[bytes]:
    if head is not None:
        yield head
    for chunk in chunks:
        yield rewrite_blocks(chunk, revision)


def materialized(body: bytes | memoryview, revision: int) -> bytes:
    """A whole Native result (all blocks) as ClickHouse writes it for ``revision``."""
    try:
        return rewrite_blocks(bytes(body), revision)
    except UnsupportedNativeTypeError as exc:
        raise ClickHouseHttpError.of(
            ErrorCode.NOT_IMPLEMENTED,
            f"This server cannot write {exc} in the Native format for client_protocol_version "
            f"{revision}; run it without client_protocol_version or as a SELECT",
        ) from exc
