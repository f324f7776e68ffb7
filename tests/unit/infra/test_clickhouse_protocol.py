"""Pure parts of the ClickHouse HTTP endpoint: requests, SQL routing, codecs, errors, sessions."""

from __future__ import annotations

import base64
import gzip
import io
import json
import zlib
from typing import cast

import brotli
import lz4.frame
import pytest
from backports import zstd

from infra.clickhouse_http.body import QueryInput, RawBody
from infra.clickhouse_http.codecs import request_decoder, response_encoder
from infra.clickhouse_http.engine import Handle
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.formats import canonical_format, content_type, is_stream_safe
from infra.clickhouse_http.protocol import (
    Credentials,
    QueryStats,
    SessionSpec,
    check_credentials,
    exception_block,
    http_status,
    parse_multipart,
    parse_request,
    summary_header,
)
from infra.clickhouse_http.query_context import quote_identifier, quote_value, set_statement
from infra.clickhouse_http.sessions import SessionRegistry
from infra.clickhouse_http.sqltext import scan

# --- request parsing -------------------------------------------------------------------


def test_settings_params_and_reserved_names_are_told_apart() -> None:
    req = parse_request(
        "POST",
        "query=SELECT+%7Bx%3AUInt8%7D&param_x=41&max_threads=2&database=vidsight"
        "&default_format=JSONEachRow&session_id=s1&query_id=q1&wait_end_of_query=1"
        "&compress=0&buffer_size=10&date_time_input_format=best_effort",
        {},
    )
    assert req.query == "SELECT {x:UInt8}"
    assert req.params == {"x": "41"}
    assert req.settings == {"max_threads": "2", "date_time_input_format": "best_effort"}
    assert req.database == "vidsight"
    assert req.default_format == "JSONEachRow"
    assert req.query_id == "q1"
    assert req.session is not None and req.session.session_id == "s1"
    assert req.session.timeout_s == 60
    assert req.wait_end_of_query is True
    assert req.compress is False


def test_defaults_without_parameters() -> None:
    req = parse_request("GET", "", {})
    assert req.query == ""
    assert req.default_format == "TabSeparated"
    assert req.database is None
    assert req.session is None
    assert req.settings == {} and req.params == {}
    assert req.readonly == 2  # GET implies readonly=2


def test_headers_override_url_parameters() -> None:
    req = parse_request(
        "POST",
        "database=a&default_format=CSV",
        {"x-clickhouse-database": "b", "x-clickhouse-format": "JSON", "x-clickhouse-query-id": "h"},
    )
    assert req.database == "b"
    assert req.default_format == "JSON"
    assert req.query_id == "h"


def test_post_is_not_readonly_unless_a_readonly_setting_says_so() -> None:
    assert parse_request("POST", "", {}).readonly == 0
    assert parse_request("POST", "readonly=1", {}).readonly == 1
    assert parse_request("POST", "readonly=2", {}).readonly == 2


@pytest.mark.parametrize(
    ("method", "query", "level"),
    [
        ("GET", "readonly=0", 2),  # GET cannot be talked out of readonly
        ("GET", "readonly=1", 1),  # ... but may ask for the stricter level
        ("HEAD", "", 2),
        ("POST", "readonly=yes", 1),  # not 0, 1 or 2: the strictest
        ("POST", "readonly=%C2%A00", 1),
    ],
)
def test_readonly_levels(method: str, query: str, level: int) -> None:
    assert parse_request(method, query, {}).readonly == level


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("query_id=a%0D%0ASet-Cookie:%20injected=1", {}),
        ("session_timezone=UTC%0D%0ASet-Cookie:%20injected=1", {}),
        ("session_id=s%0Ax", {}),
        ("default_format=TSV%0D%0AX:1", {}),
        ("database=d%00", {}),
        ("", {"x-clickhouse-query-id": "a\rb"}),
        ("", {"x-clickhouse-format": "JSON\x7f"}),
    ],
)
def test_control_characters_in_echoed_values_are_refused(
    query: str, headers: dict[str, str]
) -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        parse_request("POST", query, headers)
    assert err.value.code == ErrorCode.BAD_ARGUMENTS
    assert "control characters" in err.value.text


def test_empty_query_id_means_generate_one() -> None:
    # clickhouse-connect sends query_id= (empty) for its DESCRIBE probes.
    assert parse_request("POST", "query_id=", {}).query_id is None


def test_session_parameters() -> None:
    req = parse_request(
        "POST", "session_id=abc&session_timeout=120&session_check=1&close_session=true", {}
    )
    assert req.session is not None
    assert (req.session.timeout_s, req.session.check, req.session.close) == (120, True, True)


@pytest.mark.parametrize("timeout", ["abc", "-1", "3601"])
def test_invalid_session_timeout(timeout: str) -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        parse_request("POST", f"session_id=s&session_timeout={timeout}", {})
    assert err.value.code == ErrorCode.INVALID_SESSION_TIMEOUT


def test_compression_flags_and_encodings() -> None:
    req = parse_request(
        "POST",
        "compress=1&decompress=true&enable_http_compression=1",
        {"content-encoding": "lz4", "accept-encoding": "gzip, zstd"},
    )
    assert req.compress and req.decompress
    assert req.content_encoding == "lz4"
    assert req.accept_encoding == "gzip, zstd"
    assert req.settings == {"enable_http_compression": "1"}


def test_multipart_detection() -> None:
    req = parse_request("POST", "", {"content-type": "multipart/form-data; boundary=x"})
    assert req.is_multipart


# --- credentials -----------------------------------------------------------------------


def test_credentials_from_each_source() -> None:
    basic = base64.b64encode(b"alice:s3cret").decode()
    assert parse_request("POST", "", {"authorization": f"Basic {basic}"}).credentials == (
        Credentials("alice", "s3cret", "basic")
    )
    headers = {"x-clickhouse-user": "bob", "x-clickhouse-key": "k"}
    assert parse_request("POST", "", headers).credentials == Credentials("bob", "k", "headers")
    assert parse_request("POST", "user=carol&password=p", {}).credentials == Credentials(
        "carol", "p", "params"
    )
    assert parse_request("POST", "", {}).credentials == Credentials()


def test_mixing_credential_sources_is_refused() -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        parse_request("POST", "user=a", {"x-clickhouse-user": "b"})
    assert err.value.code == ErrorCode.AUTHENTICATION_FAILED
    assert http_status(err.value.code) == 403


def test_unsupported_authorization_scheme() -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        parse_request("POST", "", {"authorization": "Digest abc"})
    assert "Digest" in err.value.text


def test_check_credentials() -> None:
    check_credentials(Credentials("default", "pw"), "default", "pw")
    with pytest.raises(ClickHouseHttpError) as err:
        check_credentials(Credentials("default", "nope"), "default", "pw")
    assert err.value.text == (
        "Code: 516. DB::Exception: default: Authentication failed: password is incorrect, "
        "or there is no user with such name. (AUTHENTICATION_FAILED)"
    )
    assert http_status(err.value.code) == 403
    with pytest.raises(ClickHouseHttpError):
        check_credentials(Credentials("mallory", "pw"), "default", "pw")
    with pytest.raises(ClickHouseHttpError):
        check_credentials(Credentials("default", ""), "default", "pw")


# --- errors and status codes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.SYNTAX_ERROR, 400),
        (ErrorCode.CANNOT_PARSE_DATETIME, 400),
        (ErrorCode.UNKNOWN_TABLE, 404),
        (ErrorCode.UNKNOWN_IDENTIFIER, 404),
        (ErrorCode.UNKNOWN_SETTING, 404),
        (ErrorCode.UNKNOWN_DATABASE, 404),
        (ErrorCode.REQUIRED_PASSWORD, 401),
        (ErrorCode.AUTHENTICATION_FAILED, 403),
        (ErrorCode.NOT_IMPLEMENTED, 501),
        (ErrorCode.QUERY_IS_TOO_LARGE, 413),
        (ErrorCode.TIMEOUT_EXCEEDED, 408),
        (ErrorCode.READONLY, 500),
        (ErrorCode.SESSION_IS_LOCKED, 500),
        (395, 500),  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO: anything unlisted
    ],
)
def test_http_status_follows_clickhouse(code: int, status: int) -> None:
    assert http_status(code) == status


def test_engine_error_keeps_code_and_text() -> None:
    err = ClickHouseHttpError.from_engine(
        "Streaming query failed: Code: 60. DB::Exception: Unknown table 'x'. (UNKNOWN_TABLE)"
    )
    assert err.code == 60
    assert err.text == "Code: 60. DB::Exception: Unknown table 'x'. (UNKNOWN_TABLE)"
    assert err.body("26.9.2.1") == (
        "Code: 60. DB::Exception: Unknown table 'x'. (UNKNOWN_TABLE) (version 26.9.2.1)\n"
    )


def test_engine_error_nested_in_itself_is_unwrapped() -> None:
    raw = (
        "Code: 115. DB::Exception: Code: 115. DB::Exception: Unknown setting 'nosuch'. "
        "(UNKNOWN_SETTING) (version 26.9.2.1). (UNKNOWN_SETTING)"
    )
    err = ClickHouseHttpError.from_engine(raw)
    assert err.code == 115
    assert err.text == "Code: 115. DB::Exception: Unknown setting 'nosuch'. (UNKNOWN_SETTING)"


def test_engine_error_without_code() -> None:
    err = ClickHouseHttpError.from_engine("something odd")
    assert err.code == ErrorCode.UNKNOWN_EXCEPTION
    assert "something odd" in err.text


def test_own_error_rendering() -> None:
    err = ClickHouseHttpError.of(ErrorCode.SESSION_IS_LOCKED, "Session s is locked")
    assert err.text == "Code: 373. DB::Exception: Session s is locked. (SESSION_IS_LOCKED)"


def test_summary_header_sends_strings() -> None:
    summary = json.loads(summary_header(QueryStats(read_rows=3, written_rows=2, elapsed_ns=7)))
    assert summary == {
        "read_rows": "3",
        "read_bytes": "0",
        "written_rows": "2",
        "written_bytes": "0",
        "total_rows_to_read": "3",
        "result_rows": "0",
        "result_bytes": "0",
        "elapsed_ns": "7",
    }


def test_exception_block_is_what_clickhouse_connect_parses() -> None:
    from clickhouse_connect.driver.transform import extract_exception_with_tag

    block = exception_block("Code: 395. DB::Exception: boom. (X) (version 1)\n", "abcd")
    assert extract_exception_with_tag(b"data" + block, "abcd") == (
        "Code: 395. DB::Exception: boom. (X) (version 1)"
    )


# --- SQL routing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "keyword", "fmt"),
    [
        (b"SELECT 1", "SELECT", None),
        (b"select 1 format jsoneachrow", "SELECT", "JSONEachRow"),
        (b"(SELECT 1) UNION ALL (SELECT 2) FORMAT Native", "SELECT", "Native"),
        (b"SELECT 1 FORMAT JSON SETTINGS max_threads = 1", "SELECT", "JSON"),
        (b"SELECT 1 SETTINGS max_threads = 1 FORMAT CSV\n", "SELECT", "CSV"),
        (b"SELECT format('{}', 1)", "SELECT", None),
        (b"SELECT format FROM t", "SELECT", None),
        (b"SELECT x FROM t ORDER BY format DESC", "SELECT", None),
        (b"SELECT 'FORMAT JSON' -- FORMAT CSV", "SELECT", None),
        (b"SELECT 1 /* FORMAT /* nested */ CSV */", "SELECT", None),
        (b"SELECT $$ FORMAT JSON $$ FORMAT TSV", "SELECT", "TSV"),
        (b"  -- comment\n WITH 1 AS x SELECT x", "WITH", None),
        (b"SHOW TABLES FORMAT JSONCompact", "SHOW", "JSONCompact"),
        (b"SELECT 1; SELECT 2 FORMAT JSON", "SELECT", None),
    ],
)
def test_scan_finds_keyword_and_output_format(sql: bytes, keyword: str, fmt: str | None) -> None:
    statement = scan(sql)
    assert (statement.keyword, statement.output_format) == (keyword, fmt)


@pytest.mark.parametrize(
    ("sql", "head", "fmt", "data"),
    [
        (b"INSERT INTO t FORMAT CSV\n1,a\n", b"INSERT INTO t", "CSV", b"1,a\n"),
        (b"INSERT INTO t FORMAT CSV 1,a", b"INSERT INTO t", "CSV", b"1,a"),
        (b"INSERT INTO t FORMAT TSV  \r\n\n1", b"INSERT INTO t", "TSV", b"\n1"),
        (
            b"INSERT INTO db.t (a, b) SETTINGS async_insert=0 FORMAT Native\n\x00\xff",
            b"INSERT INTO db.t (a, b) SETTINGS async_insert=0",
            "Native",
            b"\x00\xff",
        ),
        (
            b"insert into t values (1, 'x'), (2, 'y')",
            b"insert into t",
            "Values",
            b" (1, 'x'), (2, 'y')",
        ),
        (b"INSERT INTO format FORMAT CSV\n1", b"INSERT INTO format", "CSV", b"1"),
        (b"INSERT INTO t (values) VALUES (1)", b"INSERT INTO t (values)", "Values", b" (1)"),
    ],
)
def test_scan_splits_insert_statement_from_data(
    sql: bytes, head: bytes, fmt: str, data: bytes
) -> None:
    insert = scan(sql).insert
    assert insert is not None
    assert (insert.head, insert.format, sql[insert.data_offset :]) == (head, fmt, data)


@pytest.mark.parametrize(
    "sql",
    [
        b"INSERT INTO t SELECT 1",
        b"INSERT INTO t WITH 1 AS x SELECT x",
        b"INSERT INTO t FROM INFILE 'f' FORMAT CSV",
    ],
)
def test_insert_without_inline_data(sql: bytes) -> None:
    statement = scan(sql)
    assert statement.keyword == "INSERT"
    assert statement.insert is None and not statement.incomplete_insert


def test_insert_cut_before_its_format_is_incomplete() -> None:
    assert scan(b"INSERT INTO t (a, b").incomplete_insert


@pytest.mark.parametrize("sql", [b"", b"   \n", b"-- only a comment", b"/* c */"])
def test_empty_statement(sql: bytes) -> None:
    assert scan(sql).is_empty


def test_set_statement_names() -> None:
    assert scan(b"SET max_threads = 1, `x` = 2, readonly = 0").set_names == {
        "max_threads",
        "x",
        "readonly",
    }


@pytest.mark.parametrize(
    ("sql", "result"),
    [
        (b"SELECT 1", True),
        (b"DESCRIBE TABLE t", True),
        (b"EXISTS TABLE t", True),
        (b"SET max_threads = 1", False),
        (b"CREATE TABLE t (a Int8) ENGINE = Memory", False),
        (b"INSERT INTO t VALUES (1)", False),
        (b"DROP TABLE t", False),
        (b"SELEC 1", False),
    ],
)
def test_statement_classes(sql: bytes, result: bool) -> None:
    assert scan(sql).produces_result is result


@pytest.mark.parametrize("blank", ["\u00a0", "\ufeff", "\u2003", "\u3000", "\u0085", " \u00a0\t"])
def test_unicode_blanks_are_blanks_as_in_clickhouse(blank: str) -> None:
    assert scan(f"{blank}DROP TABLE t".encode()).keyword == "DROP"
    insert = scan(f"{blank}INSERT INTO t{blank}FORMAT{blank}CSV\n1\n".encode()).insert
    assert insert is not None and insert.format == "CSV"


# --- formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "ctype"),
    [
        ("TabSeparated", "text/tab-separated-values; charset=UTF-8"),
        ("TSVWithNames", "text/tab-separated-values; charset=UTF-8"),
        ("CSV", "text/csv; charset=UTF-8; header=absent"),
        ("CSVWithNames", "text/csv; charset=UTF-8; header=present"),
        ("JSON", "application/json; charset=UTF-8"),
        ("JSONEachRow", "application/x-ndjson; charset=UTF-8"),
        ("Native", "application/octet-stream"),
        ("RowBinaryWithNamesAndTypes", "application/octet-stream"),
        ("Arrow", "application/octet-stream"),
        ("Parquet", "application/octet-stream"),
        ("Pretty", "text/plain; charset=UTF-8"),
        ("XML", "application/xml; charset=UTF-8"),
    ],
)
def test_content_types(fmt: str, ctype: str) -> None:
    assert content_type(fmt) == ctype


def test_format_names_are_case_insensitive() -> None:
    assert canonical_format("rowbinarywithnamesandtypes") == "RowBinaryWithNamesAndTypes"
    assert canonical_format("DataFrame") is None


def test_stream_safety() -> None:
    assert is_stream_safe("Native") and is_stream_safe("jsoneachrow")
    assert not is_stream_safe("JSON") and not is_stream_safe("Arrow")
    assert not is_stream_safe("RowBinaryWithNamesAndTypes")


# --- settings statements ---------------------------------------------------------------


def test_set_statement_quotes_and_puts_readonly_last() -> None:
    sql = set_statement({"readonly": "1", "a": "it's", "b": None})
    assert sql == "SET `a` = 'it\\'s', `b` = DEFAULT, `readonly` = '1'"
    assert quote_value("a\\b") == "'a\\\\b'"
    assert quote_identifier("we`ird") == "`we\\`ird`"


# --- bodies and codecs -----------------------------------------------------------------


def test_chunked_body_is_decoded() -> None:
    wire = b"4\r\nSELE\r\n3;ext=1\r\nCT \r\n1\r\n1\r\n0\r\nTrailer: x\r\n\r\nNEXT"
    rfile = io.BytesIO(wire)
    raw = RawBody(rfile, None, chunked=True)
    source = QueryInput(b"", raw, request_decoder(""), "")
    assert source.head(1 << 20) == (b"SELECT 1", True)
    assert rfile.read() == b"NEXT"  # the next request on the connection is untouched


def test_query_parameter_and_body_are_one_stream() -> None:
    body = b"FORMAT CSV\n1,2\n"
    raw = RawBody(io.BytesIO(body), len(body), chunked=False)
    source = QueryInput(b"INSERT INTO t\n", raw, request_decoder(""), "")
    head, complete = source.head(8)
    assert head.startswith(b"INSERT INTO t") and not complete
    insert = scan(source.head(1 << 16)[0]).insert
    assert insert is not None
    assert b"".join(source.rest(insert.data_offset)) == b"1,2\n"


def test_truncated_body_is_an_error() -> None:
    raw = RawBody(io.BytesIO(b"abc"), 10, chunked=False)
    with pytest.raises(ClickHouseHttpError) as err:
        raw.drain()
    assert err.value.code == ErrorCode.CANNOT_READ_ALL_DATA


def test_read_all_refuses_too_large_queries() -> None:
    raw = RawBody(io.BytesIO(b"x" * 100), 100, chunked=False)
    source = QueryInput(b"", raw, request_decoder(""), "")
    with pytest.raises(ClickHouseHttpError) as err:
        source.read_all(50)
    assert err.value.code == ErrorCode.QUERY_IS_TOO_LARGE


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("lz4", lz4.frame.compress),
        ("zstd", zstd.compress),
    ],
)
def test_request_decoders_handle_concatenated_frames(encoding: str, compress: object) -> None:
    assert callable(compress)
    frames = compress(b"INSERT INTO t FORMAT CSV\n") + compress(b"1,a\n") + compress(b"2,b\n")
    decoder = request_decoder(encoding)
    out = b"".join(decoder.decode(frames[i : i + 7]) for i in range(0, len(frames), 7))
    assert out == b"INSERT INTO t FORMAT CSV\n1,a\n2,b\n"


def test_brotli_request_body_decodes_in_pieces() -> None:
    body = brotli.compress(b"INSERT INTO t FORMAT CSV\n" + b"1,a\n" * 1000)
    decoder = request_decoder("br")
    out = b"".join(decoder.decode(body[i : i + 5]) for i in range(0, len(body), 5))
    assert out == b"INSERT INTO t FORMAT CSV\n" + b"1,a\n" * 1000


def test_unknown_content_encoding() -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        request_decoder("snappy")
    assert err.value.code == ErrorCode.UNKNOWN_COMPRESSION_METHOD


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("lz4,zstd,gzip,deflate", "zstd"),  # the server's preference, as ClickHouse
        ("gzip, deflate", "gzip"),
        ("deflate", "deflate"),
        ("lz4", "lz4"),
        ("zstd;q=0, gzip", "gzip"),
        ("br", "br"),
        ("lz4, br, gzip", "br"),  # ClickHouse: zstd, br, lz4, gzip, deflate
        ("snappy", None),
        ("", None),
    ],
)
def test_response_encoding_choice(accept: str, chosen: str | None) -> None:
    picked = response_encoder(accept)
    assert (picked[0] if picked else None) == chosen


@pytest.mark.parametrize(
    ("accept", "decompress"),
    [
        ("gzip", gzip.decompress),
        ("deflate", zlib.decompress),
        ("lz4", lz4.frame.decompress),
        ("zstd", zstd.decompress),
        ("br", brotli.decompress),
    ],
)
def test_response_encoders_round_trip(accept: str, decompress: object) -> None:
    assert callable(decompress)
    picked = response_encoder(accept)
    assert picked is not None
    encoder = picked[1]
    out = encoder.encode(b"abc" * 1000) + encoder.encode(memoryview(b"def")) + encoder.finish()
    assert decompress(out) == b"abc" * 1000 + b"def"


def test_multipart_fields() -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="query"\r\n\r\n'
        b"SELECT {ids:Array(UInt32)}\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="param_ids"\r\n\r\n'
        b"[1,2,3]\r\n"
        b"--XyZ--\r\n"
    )
    parts = parse_multipart("multipart/form-data; boundary=XyZ", body)
    assert [(p.name, p.data, p.filename) for p in parts] == [
        ("query", b"SELECT {ids:Array(UInt32)}", None),
        ("param_ids", b"[1,2,3]", None),
    ]


# --- sessions ------------------------------------------------------------------------------


class _StandInHandle:
    """Only what the registry touches: close()."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _registry(clock: list[float]) -> tuple[SessionRegistry, list[_StandInHandle]]:
    opened: list[_StandInHandle] = []

    def open_handle() -> Handle:
        opened.append(_StandInHandle())
        return cast(Handle, opened[-1])

    return SessionRegistry(open_handle, clock=lambda: clock[0]), opened


def test_session_is_reused_and_locked_while_busy() -> None:
    registry, opened = _registry([0.0])
    spec = SessionSpec("s", timeout_s=60, check=False, close=False)
    with registry.acquire(spec) as first:
        with pytest.raises(ClickHouseHttpError) as err, registry.acquire(spec):
            pass
        assert err.value.code == ErrorCode.SESSION_IS_LOCKED
    with registry.acquire(spec) as again:
        assert again is first
    assert len(opened) == 1 and len(registry) == 1


def test_session_check_expiry_and_close() -> None:
    clock = [0.0]
    registry, opened = _registry(clock)
    with (
        pytest.raises(ClickHouseHttpError) as err,
        registry.acquire(SessionSpec("x", 60, True, False)),
    ):
        pass
    assert err.value.code == ErrorCode.SESSION_NOT_FOUND
    with registry.acquire(SessionSpec("s", 10, False, False)):
        pass
    clock[0] = 11.0
    registry.expire()
    assert opened[0].closed and len(registry) == 0
    with registry.acquire(SessionSpec("t", 10, False, close=True)):
        pass
    assert opened[1].closed and len(registry) == 0
