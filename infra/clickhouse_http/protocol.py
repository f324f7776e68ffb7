"""The ClickHouse HTTP interface as pure functions: what a request asks for, how errors map.

Everything here follows ClickHouse's own HTTP handler (``src/Server/HTTPHandler.cpp``):
URL parameters are either reserved transport parameters, ``param_<name>`` query parameters, or
ClickHouse settings applied to that one query; the ``X-ClickHouse-*`` headers override their
URL counterparts; credentials come from exactly one of headers, Basic auth or URL parameters.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qsl

from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.formats import DEFAULT_FORMAT

# URL parameters ClickHouse consumes itself; every other one (but param_*) is a setting.
RESERVED_PARAMS = frozenset(
    {
        "query", "database", "default_format", "compress", "decompress", "user", "password",
        "quota_key", "query_id", "stacktrace", "role", "buffer_size", "wait_end_of_query",
        "session_id", "session_timeout", "session_check", "client_protocol_version",
        "close_session",
    }
)  # fmt: skip
PARAM_PREFIX = "param_"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the request says it is, and which of the mutually exclusive ways it said so."""

    user: str = "default"
    password: str = ""
    scheme: str = "none"  # none | headers | basic | bearer | params


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """The ``session_*`` parameters of a request that names a session."""

    session_id: str
    timeout_s: int
    check: bool  # session_check=1: the session must already exist
    close: bool  # close_session=1: drop the session after this request


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """One HTTP request to the query handler, with every ClickHouse parameter resolved."""

    method: str
    query: str  # the ``query`` URL parameter ("" when the query is in the body only)
    default_format: str = DEFAULT_FORMAT
    database: str | None = None
    query_id: str | None = None
    session: SessionSpec | None = None
    params: Mapping[str, str] = field(default_factory=dict)  # bind parameters, no prefix
    settings: Mapping[str, str] = field(default_factory=dict)  # applied to this query only
    credentials: Credentials = Credentials()
    content_encoding: str = ""
    content_type: str = ""
    accept_encoding: str = ""
    wait_end_of_query: bool = False
    compress: bool = False  # ClickHouse-native compression of the result (not supported)
    decompress: bool = False  # ClickHouse-native compression of the body (not supported)
    client_protocol_version: int = 0  # the Native format's revision (native_protocol)

    @property
    def readonly(self) -> int:
        """The readonly level the engine must run this request at: 0 (writes), 1 or 2.

        GET implies readonly=2 in ClickHouse unless the request asks for 1; a value that is
        not 0, 1 or 2 counts as 1, the strictest (the engine refuses it anyway).
        """
        value = self.settings.get("readonly", "0")
        level = 0 if value in ("0", "") else 2 if value == "2" else 1
        if level == 0 and self.method in ("GET", "HEAD"):
            return 2
        return level

    @property
    def is_multipart(self) -> bool:
        """A multipart/form-data body carries the query and parameters as form fields."""
        return self.content_type.lower().startswith("multipart/form-data")


@dataclass(frozen=True, slots=True)
class QueryStats:
    """What the X-ClickHouse-Summary header reports about a finished query."""

    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    result_rows: int = 0
    result_bytes: int = 0
    elapsed_ns: int = 0


def parse_bool(value: str) -> bool:
    """A boolean URL parameter the way ClickHouse parses one."""
    return value.strip().lower() in ("1", "true", "yes", "on")


def parse_request(
    method: str,
    query_string: str,
    headers: Mapping[str, str],
    *,
    default_session_timeout: int = 60,
    max_session_timeout: int = 3600,
) -> QueryRequest:
    """Resolve a request's URL parameters and headers (lower-case names) into a QueryRequest."""
    url = dict(parse_qsl(query_string, keep_blank_values=True))
    for name in _ECHOED_PARAMS:
        if name in url:
            check_header_value(name, url[name])
    for name in _ECHOED_HEADERS:
        if name in headers:
            check_header_value(name, headers[name])
    params: dict[str, str] = {}
    settings: dict[str, str] = {}
    for key, value in url.items():
        if key.startswith(PARAM_PREFIX):
            params[key[len(PARAM_PREFIX) :]] = value
        elif key and key not in RESERVED_PARAMS:
            settings[key] = value
    wait = url.get("wait_end_of_query", settings.get("http_wait_end_of_query", "0"))
    return QueryRequest(
        method=method.upper(),
        query=url.get("query", ""),
        default_format=headers.get("x-clickhouse-format")
        or url.get("default_format")
        or DEFAULT_FORMAT,
        database=headers.get("x-clickhouse-database") or url.get("database") or None,
        query_id=url.get("query_id") or headers.get("x-clickhouse-query-id") or None,
        session=_session(url, default_session_timeout, max_session_timeout),
        params=params,
        settings=settings,
        credentials=parse_credentials(url, headers),
        content_encoding=headers.get("content-encoding", ""),
        content_type=headers.get("content-type", ""),
        accept_encoding=headers.get("accept-encoding", ""),
        wait_end_of_query=parse_bool(wait),
        compress=parse_bool(url.get("compress", "0")),
        decompress=parse_bool(url.get("decompress", "0")),
        client_protocol_version=_revision(url.get("client_protocol_version", "0")),
    )


def _revision(text: str) -> int:
    if not text.strip().isdigit():
        raise ClickHouseHttpError.of(
            ErrorCode.CANNOT_PARSE_NUMBER,
            f"Cannot parse client_protocol_version '{text[:40]}': expected an unsigned integer",
        )
    return int(text)


# Values the response copies into its headers (X-ClickHouse-Query-Id, -Timezone, -Format).
_ECHOED_PARAMS = ("query_id", "session_id", "session_timezone", "default_format", "database")
_ECHOED_HEADERS = ("x-clickhouse-query-id", "x-clickhouse-format", "x-clickhouse-database")


def check_header_value(name: str, value: str) -> None:
    """Refuse a value with control characters: it would end up in a response header."""
    bad = next((c for c in value if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise ClickHouseHttpError.of(
            ErrorCode.BAD_ARGUMENTS,
            f"The value of {name} must not contain control characters (found 0x{ord(bad):02x})",
        )


def _session(url: Mapping[str, str], default_timeout: int, max_timeout: int) -> SessionSpec | None:
    session_id = url.get("session_id")
    if session_id is None:
        return None
    timeout = default_timeout
    if "session_timeout" in url:
        text = url["session_timeout"]
        if not text.isdigit():
            raise ClickHouseHttpError.of(
                ErrorCode.INVALID_SESSION_TIMEOUT, f"Invalid session timeout: '{text}'"
            )
        timeout = int(text)
        if timeout > max_timeout:
            raise ClickHouseHttpError.of(
                ErrorCode.INVALID_SESSION_TIMEOUT,
                f"Session timeout '{text}' is larger than max_session_timeout: {max_timeout}. "
                "Maximum session timeout could be modified in configuration file",
            )
    return SessionSpec(
        session_id=session_id,
        timeout_s=timeout,
        check=parse_bool(url.get("session_check", "0")),
        close=parse_bool(url.get("close_session", "0")),
    )


def parse_credentials(url: Mapping[str, str], headers: Mapping[str, str]) -> Credentials:
    """The request's credentials; mixing two ways of passing them is refused, as ClickHouse does."""
    in_headers = any(h in headers for h in ("x-clickhouse-user", "x-clickhouse-key"))
    in_params = any(p in url for p in ("user", "password"))
    authorization = headers.get("authorization", "")
    if sum((in_headers, in_params, bool(authorization))) > 1:
        raise ClickHouseHttpError.of(
            ErrorCode.AUTHENTICATION_FAILED,
            "Invalid authentication: it is not allowed to use more than one of "
            "X-ClickHouse-User/Key headers, the Authorization header and user/password parameters",
        )
    if in_headers:
        return Credentials(
            headers.get("x-clickhouse-user") or "default",
            headers.get("x-clickhouse-key", ""),
            "headers",
        )
    if in_params:
        return Credentials(url.get("user") or "default", url.get("password", ""), "params")
    if not authorization:
        return Credentials()
    scheme, _, info = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return Credentials("default", info.strip(), "bearer")
    if scheme.lower() != "basic":
        raise ClickHouseHttpError.of(
            ErrorCode.AUTHENTICATION_FAILED,
            f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported",
        )
    try:
        user, _, password = base64.b64decode(info.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ClickHouseHttpError.of(
            ErrorCode.AUTHENTICATION_FAILED, "Invalid authentication: malformed Basic credentials"
        ) from None
    return Credentials(user or "default", password, "basic")


def check_credentials(credentials: Credentials, user: str, password: str) -> None:
    """Refuse credentials that do not match the one configured user, as ClickHouse words it.

    Both comparisons always run, in constant time, so timing tells neither part.
    """
    user_ok = hmac.compare_digest(credentials.user.encode(), user.encode())
    password_ok = hmac.compare_digest(credentials.password.encode(), password.encode())
    if not (user_ok and password_ok):
        raise ClickHouseHttpError.of(
            ErrorCode.AUTHENTICATION_FAILED,
            f"{_printable(credentials.user)}: Authentication failed: password is incorrect, "
            "or there is no user with such name",
        )


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:64])


@dataclass(frozen=True, slots=True)
class FormPart:
    """One part of a multipart/form-data body."""

    name: str
    data: bytes
    filename: str | None = None


def parse_multipart(content_type: str, body: bytes) -> list[FormPart]:
    """The parts of a multipart/form-data body (clickhouse-connect's form-encoded queries)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ClickHouseHttpError.of(
            ErrorCode.BAD_ARGUMENTS, "Malformed multipart/form-data body: no parts found"
        )
    parts: list[FormPart] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        parts.append(FormPart(name, payload, part.get_filename()))
    return parts


# exceptionCodeToHTTPStatus in ClickHouse: anything not listed is a 500.
_STATUS_BY_CODE: dict[int, int] = {
    ErrorCode.REQUIRED_PASSWORD: 401,
    **dict.fromkeys(
        (
            ErrorCode.UNKNOWN_USER, ErrorCode.WRONG_PASSWORD, ErrorCode.AUTHENTICATION_FAILED,
            ErrorCode.SET_NON_GRANTED_ROLE, ErrorCode.ACCESS_DENIED,
        ),
        403,
    ),
    **dict.fromkeys(
        (
            ErrorCode.BAD_ARGUMENTS, ErrorCode.CANNOT_COMPILE_REGEXP, ErrorCode.CANNOT_PARSE_TEXT,
            ErrorCode.CANNOT_PARSE_ESCAPE_SEQUENCE, ErrorCode.CANNOT_PARSE_QUOTED_STRING,
            ErrorCode.CANNOT_PARSE_DATE, ErrorCode.CANNOT_PARSE_DATETIME,
            ErrorCode.CANNOT_PARSE_NUMBER, ErrorCode.CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING,
            ErrorCode.CANNOT_PARSE_IPV4, ErrorCode.CANNOT_PARSE_IPV6,
            ErrorCode.CANNOT_PARSE_INPUT_ASSERTION_FAILED, ErrorCode.CANNOT_PARSE_UUID,
            ErrorCode.DUPLICATE_COLUMN, ErrorCode.ILLEGAL_COLUMN,
            ErrorCode.UNKNOWN_ELEMENT_IN_AST, ErrorCode.UNKNOWN_TYPE_OF_AST_NODE,
            ErrorCode.THERE_IS_NO_COLUMN, ErrorCode.TOO_DEEP_AST, ErrorCode.TOO_BIG_AST,
            ErrorCode.UNEXPECTED_AST_STRUCTURE, ErrorCode.SYNTAX_ERROR, ErrorCode.INCORRECT_DATA,
            ErrorCode.TYPE_MISMATCH, ErrorCode.VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE,
        ),
        400,
    ),
    **dict.fromkeys(
        (
            ErrorCode.UNKNOWN_TABLE, ErrorCode.UNKNOWN_FUNCTION, ErrorCode.UNKNOWN_IDENTIFIER,
            ErrorCode.UNKNOWN_TYPE, ErrorCode.UNKNOWN_STORAGE, ErrorCode.UNKNOWN_DATABASE,
            ErrorCode.UNKNOWN_SETTING, ErrorCode.UNKNOWN_DIRECTION_OF_SORTING,
            ErrorCode.UNKNOWN_AGGREGATE_FUNCTION, ErrorCode.UNKNOWN_FORMAT,
            ErrorCode.UNKNOWN_DATABASE_ENGINE, ErrorCode.UNKNOWN_TYPE_OF_QUERY,
            ErrorCode.UNKNOWN_ROLE,
        ),
        404,
    ),
    ErrorCode.QUERY_IS_TOO_LARGE: 413,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.SOCKET_TIMEOUT: 503,
    ErrorCode.CANNOT_OPEN_FILE: 503,
    ErrorCode.CANNOT_SCHEDULE_TASK: 503,
    ErrorCode.HTTP_LENGTH_REQUIRED: 411,
    ErrorCode.TIMEOUT_EXCEEDED: 408,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
}  # fmt: skip


def http_status(code: int) -> int:
    """The HTTP status ClickHouse answers an exception with this code with."""
    return _STATUS_BY_CODE.get(code, 500)


def summary_header(stats: QueryStats) -> str:
    """X-ClickHouse-Summary: ClickHouse sends every counter as a JSON string."""
    return json.dumps(
        {
            "read_rows": str(stats.read_rows),
            "read_bytes": str(stats.read_bytes),
            "written_rows": str(stats.written_rows),
            "written_bytes": str(stats.written_bytes),
            "total_rows_to_read": str(stats.read_rows),
            "result_rows": str(stats.result_rows),
            "result_bytes": str(stats.result_bytes),
            "elapsed_ns": str(stats.elapsed_ns),
        },
        separators=(",", ":"),
    )


def exception_block(message: str, tag: str) -> bytes:
    """A mid-stream exception as ClickHouse 25.11+ writes it after the data already sent.

    The client found the tag in X-ClickHouse-Exception-Tag and scans the body for this frame.
    """
    text = message.rstrip("\n")
    size = len(text.encode())
    return f"__exception__\r\n{tag}\r\n{text}\n{size} {tag}\r\n__exception__\r\n".encode()
