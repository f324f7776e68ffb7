"""The query handler: from a parsed request and its body to a response, as ClickHouse does it.

Steps: admit the query (max_concurrent_queries), check credentials, read enough of
``query`` + body to see the statement, pick a handle (fresh, or the session's), apply the
request's database and settings and its readonly level (enforced by the engine: GET implies
readonly=2), pass the statement through the access guard (access.py) on the engine's own
rendering of it, then either stream the INSERT data into chDB, or run the
statement and hand back its result (materialised, or block by block when the client did not
ask to wait for the end of the query and the format allows it). A multipart body's file parts
become temporary tables of the query (request_input), and a Native result is written for the
client's ``client_protocol_version`` (native_output). Everything the request set up
is undone by the response's ``close()``, after the body has been written.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

from infra.clickhouse_http import native_output
from infra.clickhouse_http.access import check_statement
from infra.clickhouse_http.body import RawBody
from infra.clickhouse_http.codecs import Encoder, response_encoder
from infra.clickhouse_http.engine import ChdbEngine, Handle
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.formats import (
    NON_RESULT_CONTENT_TYPE,
    PYTHON_ONLY_FORMATS,
    canonical_format,
    content_type,
    is_stream_safe,
)
from infra.clickhouse_http.protocol import (
    QueryRequest,
    QueryStats,
    check_credentials,
    exception_block,
    http_status,
    parse_bool,
    summary_header,
)
from infra.clickhouse_http.query_context import apply_fresh
from infra.clickhouse_http.request_input import (
    ExternalTable,
    create_tables,
    read_input,
    without_table_params,
)
from infra.clickhouse_http.sessions import SessionRegistry, fix_readonly
from infra.clickhouse_http.sqltext import Statement, quote_identifier, scan

log = logging.getLogger(__name__)

Headers = list[tuple[str, str]]

# chDB's send_query refuses anything but a SELECT ("Streaming query is not supported").
_STREAMABLE = frozenset({"SELECT", "WITH"})


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """Limits and identity of the query handler."""

    display_name: str
    user: str = "vidsight"
    password: str | None = None  # None: no authentication (--insecure-no-auth only)
    etl_user: str | None = None  # the ETL's user: the clients' rights plus the lake's DDL
    etl_password: str | None = None
    max_concurrent_queries: int = 100
    max_query_bytes: int = 64 << 20  # a non-INSERT statement read whole, at most this
    head_bytes: int = 64 << 10  # read before deciding what the statement is


@dataclass(slots=True)
class Response:
    """What to send: status, headers, and a body that is either whole or chunked."""

    status: int
    headers: Headers
    body: bytes | memoryview = b""
    chunks: Iterator[bytes] | None = None
    encoder: tuple[str, Encoder] | None = None  # content coding, applied by the server
    cleanup: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        """Release what the query held (stream, settings, session, handle)."""
        self.cleanup.close()


class Executor:
    """Runs requests against the engine; thread-safe, one call per request."""

    def __init__(self, engine: ChdbEngine, sessions: SessionRegistry, config: ExecutorConfig):
        self._engine = engine
        self._sessions = sessions
        self._config = config
        self._lock = threading.Lock()
        self._active = 0

    def execute(self, req: QueryRequest, raw: RawBody) -> Response:
        """Run one request; errors become ClickHouse-shaped error responses."""
        query_id = req.query_id or str(uuid.uuid4())
        headers: Headers = [
            ("X-ClickHouse-Server-Display-Name", self._config.display_name),
            ("X-ClickHouse-Query-Id", query_id),
            (
                "X-ClickHouse-Timezone",
                req.settings.get("session_timezone") or self._engine.timezone,
            ),
        ]
        try:
            return self._run(req, raw, query_id, headers)
        except ClickHouseHttpError as exc:
            log.info("query failed query_id=%s code=%d error=%s", query_id, exc.code, exc.text)
            return self.error_response(_with_hint(exc, req), headers)
        except Exception as exc:  # a bug here must still answer like ClickHouse would
            log.exception("query crashed query_id=%s", query_id)
            err = ClickHouseHttpError.of(
                ErrorCode.UNKNOWN_EXCEPTION, f"{type(exc).__name__}: {exc}"
            )
            return self.error_response(err, headers)

    def error_response(self, exc: ClickHouseHttpError, headers: Headers | None = None) -> Response:
        """The response ClickHouse sends for an exception raised before any data went out."""
        base = [h for h in headers or [] if h[0] != "Content-Type"]
        return Response(
            status=http_status(exc.code),
            headers=[
                *base,
                ("Content-Type", NON_RESULT_CONTENT_TYPE),
                ("X-ClickHouse-Exception-Code", str(exc.code)),
            ],
            body=exc.body(self._engine.version).encode(),
        )

    def _run(self, req: QueryRequest, raw: RawBody, query_id: str, headers: Headers) -> Response:
        with ExitStack() as stack:
            self._admit(stack)
            lake_ddl = self._engine.lake_ddl if self._authenticate(req) else None
            if req.compress or req.decompress:
                raise ClickHouseHttpError.of(
                    ErrorCode.NOT_IMPLEMENTED,
                    "ClickHouse-native compression (compress=1/decompress=1) is not supported "
                    "by this server; use HTTP compression (Content-Encoding, or "
                    "enable_http_compression=1 with Accept-Encoding)",
                )
            given = read_input(req, raw, self._config.max_query_bytes)
            source, params = given.query, given.params
            if given.tables:
                req = replace(req, settings=without_table_params(req.settings))
            head, complete = source.head(self._config.head_bytes)
            statement = scan(head)
            while statement.incomplete_insert and not complete:
                if len(head) > self._config.max_query_bytes:
                    break
                head, complete = source.head(len(head) * 4)
                statement = scan(head)
            if statement.is_empty:
                raise ClickHouseHttpError.of(ErrorCode.SYNTAX_ERROR, "Empty query")
            revision = native_output.revision_for(req, statement)
            rewrite = native_output.wants_rewrite(revision, req.settings)
            if rewrite:
                extra = native_output.engine_settings(revision)
                req = replace(req, settings={**req.settings, **extra})
            handle = self._handle(req, statement, stack, given.tables)
            denied = self._engine.denied_functions
            if statement.insert is not None:
                insert = statement.insert
                text = _utf8(insert.head) + " FORMAT " + insert.format
                check_statement(handle.canonical(text), denied, inline_data=False)
                data = source.rest(insert.data_offset)
                stats = handle.insert(insert.head, insert.format, data)
                self._log_done(query_id, statement, stats, req)
                return Response(
                    200,
                    [*headers, *self._done_headers(None, stats)],
                    cleanup=stack.pop_all(),
                )
            sql = head if complete else source.read_all(self._config.max_query_bytes)
            canonical = handle.canonical(_utf8(sql))
            check_statement(canonical, denied, inline_data=True, lake_ddl=lake_ddl)
            return self._select(
                req,
                statement,
                sql,
                params,
                handle,
                headers=headers,
                query_id=query_id,
                stack=stack,
                native=(revision, rewrite),
            )
        raise AssertionError("unreachable")  # pragma: no cover - the with block returns

    def _authenticate(self, req: QueryRequest) -> bool:
        """Check the credentials; True when they are the ETL user's."""
        cfg = self._config
        if cfg.password is None:
            return False
        given = req.credentials.user.encode()
        if cfg.etl_user and cfg.etl_password and hmac.compare_digest(given, cfg.etl_user.encode()):
            check_credentials(req.credentials, cfg.etl_user, cfg.etl_password)
            return True
        check_credentials(req.credentials, cfg.user, cfg.password)
        return False

    def _select(
        self,
        req: QueryRequest,
        statement: Statement,
        sql: bytes,
        params: dict[str, str],
        handle: Handle,
        *,
        headers: Headers,
        query_id: str,
        stack: ExitStack,
        native: tuple[int, bool],
    ) -> Response:
        default_format = req.default_format
        if default_format.lower() in PYTHON_ONLY_FORMATS:
            raise ClickHouseHttpError.of(
                ErrorCode.UNKNOWN_FORMAT, f"Unknown format {default_format}"
            )
        fmt = statement.output_format or canonical_format(default_format) or default_format
        result_format = fmt if statement.produces_result else None
        streaming = (
            statement.keyword in _STREAMABLE
            and not req.wait_end_of_query
            and is_stream_safe(fmt)
            and not parse_bool(req.settings.get("output_format_json_array_of_rows", "0"))
        )
        encoder = self._encoder(req) if statement.produces_result else None
        revision, rewrite = native  # client_protocol_version of a Native result, or 0
        if revision and statement.keyword in _STREAMABLE:
            streamed, chunks = native_output.stream(
                handle, sql, default_format, params, revision=revision, rewrite=rewrite, stack=stack
            )
            if not streaming:  # the client waits for the end: nothing is sent before it
                self._log_done(query_id, statement, streamed.stats, req)
                return Response(
                    200,
                    [*headers, *self._done_headers(result_format, streamed.stats)],
                    body=b"".join(chunks),
                    encoder=encoder,
                    cleanup=stack.pop_all(),
                )
        elif streaming:
            streamed = handle.stream(sql, default_format, params)
            stack.callback(streamed.close)
            chunks = streamed.chunks()
        if streaming:
            tag = secrets.token_hex(8)
            self._log_done(query_id, statement, streamed.stats, req)
            return Response(
                200,
                [
                    *headers,
                    *self._done_headers(result_format, streamed.stats),
                    ("X-ClickHouse-Exception-Tag", tag),
                ],
                chunks=self._guarded(chunks, tag, query_id),
                encoder=encoder,
                cleanup=stack.pop_all(),
            )
        result = handle.execute(sql, default_format, params)
        self._log_done(query_id, statement, result.stats, req)
        body: bytes | memoryview = result.body
        if revision and rewrite:
            body = native_output.materialized(body, revision)
        response = Response(
            200,
            [*headers, *self._done_headers(result_format, result.stats)],
            body=body,
            encoder=encoder,
            cleanup=stack.pop_all(),
        )
        response.cleanup.callback(_keep_alive, result)  # result owns the body's memory
        return response

    def _guarded(self, chunks: Iterator[bytes], tag: str, query_id: str) -> Iterator[bytes]:
        """Blocks, then a ClickHouse exception frame if the engine fails half-way."""
        try:
            yield from chunks
        except ClickHouseHttpError as exc:
            log.info("query failed mid-stream query_id=%s code=%d", query_id, exc.code)
            yield exception_block(exc.body(self._engine.version), tag)

    def _done_headers(self, result_format: str | None, stats: QueryStats) -> Headers:
        headers: Headers = [
            (
                "Content-Type",
                content_type(result_format) if result_format else NON_RESULT_CONTENT_TYPE,
            )
        ]
        if result_format:
            headers.append(("X-ClickHouse-Format", result_format))
        headers.append(("X-ClickHouse-Summary", summary_header(stats)))
        return headers

    def _admit(self, stack: ExitStack) -> None:
        with self._lock:
            if self._active >= self._config.max_concurrent_queries:
                raise ClickHouseHttpError.of(
                    ErrorCode.TOO_MANY_SIMULTANEOUS_QUERIES,
                    "Too many simultaneous queries. "
                    f"Maximum: {self._config.max_concurrent_queries}",
                )
            self._active += 1
        stack.callback(self._leave)

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1

    def _handle(
        self,
        req: QueryRequest,
        statement: Statement,
        stack: ExitStack,
        tables: tuple[ExternalTable, ...],
    ) -> Handle:
        denied = self._engine.denied_functions
        if req.session is not None:
            session = stack.enter_context(self._sessions.acquire(req.session))
            stack.callback(session.settings.after, statement)
            session.settings.prepare(session.handle, req.database, req.settings)
            fix_readonly(session, req)
            for table in tables:  # external tables belong to the query, not the session
                drop = f"DROP TEMPORARY TABLE IF EXISTS {quote_identifier(table.name)}"
                stack.callback(session.handle.text, drop)
            create_tables(session.handle, tables, denied)
            return session.handle
        handle = self._engine.open()
        stack.callback(handle.close)
        create_tables(handle, tables, denied)  # before readonly: the query may only read
        # readonly goes last in the SET, so the request's other settings still apply.
        settings = {**req.settings, "readonly": str(req.readonly)}
        apply_fresh(handle, req.database, settings, self._engine.default_settings)
        return handle

    def _encoder(self, req: QueryRequest) -> tuple[str, Encoder] | None:
        enabled = req.settings.get(
            "enable_http_compression",
            self._engine.default_settings.get("enable_http_compression", "0"),
        )
        if not req.accept_encoding or not parse_bool(enabled):
            return None
        level = req.settings.get("http_zlib_compression_level", "3")
        return response_encoder(req.accept_encoding, int(level) if level.isdigit() else 3)

    def _log_done(
        self, query_id: str, statement: Statement, stats: QueryStats, req: QueryRequest
    ) -> None:
        log.debug(
            "query done query_id=%s kind=%s session=%s result_rows=%d written_rows=%d "
            "elapsed_ms=%.2f",
            query_id,
            statement.keyword,
            req.session.session_id if req.session else "-",
            stats.result_rows,
            stats.written_rows,
            stats.elapsed_ns / 1e6,
        )


def _utf8(sql: bytes) -> str:
    try:
        return sql.decode()
    except UnicodeDecodeError as exc:
        raise ClickHouseHttpError.of(
            ErrorCode.BAD_ARGUMENTS,
            f"The query text is not valid UTF-8 (at byte {exc.start}); write binary values "
            "as escapes in string literals ('\\xFF')",
        ) from None


def _with_hint(exc: ClickHouseHttpError, req: QueryRequest) -> ClickHouseHttpError:
    """Say why a table of the ``default`` database needs the FILE grant (chDB's overlay)."""
    tail = " (ACCESS_DENIED)"
    if exc.code != ErrorCode.ACCESS_DENIED or "READ ON FILE" not in exc.text:
        return exc
    if (req.database or "default") != "default" or not exc.text.endswith(tail):
        return exc
    hint = (
        ". In chDB the `default` database also shows the host's files as tables, so a table "
        "there cannot be created or read without that grant: use a database of its own "
        "(CREATE DATABASE ...)"
    )
    return ClickHouseHttpError(exc.code, exc.text[: -len(tail)] + hint + tail)


def _keep_alive(_: object) -> None:
    """Holds a reference until the response is closed (the body is a view into it)."""
