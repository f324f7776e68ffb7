"""Errors of the ClickHouse HTTP endpoint, shaped like the exceptions ClickHouse itself sends.

A client of the endpoint (clickhouse-connect, curl, Dagster) only ever sees the ClickHouse
shape: ``Code: N. DB::Exception: message. (NAME) (version X)`` in the body and the numeric code
in ``X-ClickHouse-Exception-Code``. Errors raised by chDB already carry that text; errors this
endpoint raises itself (sessions, compression, protocol) are built with the same codes
ClickHouse uses for the same situation.
"""

from __future__ import annotations

import re
from enum import IntEnum

from vidsight.errors import VidsightError


class ErrorCode(IntEnum):
    """ClickHouse error codes this endpoint maps or raises (numbers from ``system.errors``)."""

    CANNOT_PARSE_TEXT = 6
    THERE_IS_NO_COLUMN = 8
    DUPLICATE_COLUMN = 15
    CANNOT_PARSE_ESCAPE_SEQUENCE = 25
    CANNOT_PARSE_QUOTED_STRING = 26
    CANNOT_PARSE_INPUT_ASSERTION_FAILED = 27
    CANNOT_READ_ALL_DATA = 33
    BAD_ARGUMENTS = 36
    UNKNOWN_ELEMENT_IN_AST = 37
    CANNOT_PARSE_DATE = 38
    CANNOT_PARSE_DATETIME = 41
    ILLEGAL_COLUMN = 44
    UNKNOWN_FUNCTION = 46
    UNKNOWN_IDENTIFIER = 47
    NOT_IMPLEMENTED = 48
    UNKNOWN_TYPE = 50
    TYPE_MISMATCH = 53
    UNKNOWN_STORAGE = 56
    UNKNOWN_TABLE = 60
    SYNTAX_ERROR = 62
    UNKNOWN_AGGREGATE_FUNCTION = 63
    CANNOT_PARSE_NUMBER = 72
    UNKNOWN_FORMAT = 73
    CANNOT_OPEN_FILE = 76
    UNKNOWN_TYPE_OF_QUERY = 78
    UNKNOWN_DATABASE = 81
    UNKNOWN_COMPRESSION_METHOD = 89
    UNKNOWN_SETTING = 115
    INCORRECT_DATA = 117
    UNKNOWN_TYPE_OF_AST_NODE = 123
    UNKNOWN_DIRECTION_OF_SORTING = 152
    TIMEOUT_EXCEEDED = 159
    READONLY = 164
    TOO_DEEP_AST = 167
    TOO_BIG_AST = 168
    UNKNOWN_USER = 192
    WRONG_PASSWORD = 193
    REQUIRED_PASSWORD = 194
    TOO_MANY_SIMULTANEOUS_QUERIES = 202
    SOCKET_TIMEOUT = 209
    UNEXPECTED_AST_STRUCTURE = 223
    QUERY_IS_TOO_LARGE = 229
    CANNOT_DECOMPRESS = 271
    VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE = 321
    UNKNOWN_DATABASE_ENGINE = 336
    SESSION_NOT_FOUND = 372
    SESSION_IS_LOCKED = 373
    INVALID_SESSION_TIMEOUT = 374
    CANNOT_PARSE_UUID = 376
    HTTP_LENGTH_REQUIRED = 381
    CANNOT_COMPILE_REGEXP = 427
    CANNOT_SCHEDULE_TASK = 439
    CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING = 441
    ACCESS_DENIED = 497
    UNKNOWN_ROLE = 511
    SET_NON_GRANTED_ROLE = 512
    AUTHENTICATION_FAILED = 516
    CANNOT_PARSE_IPV4 = 675
    USER_SESSION_LIMIT_EXCEEDED = 700
    CANNOT_PARSE_IPV6 = 676
    UNSUPPORTED_MEDIA_TYPE = 779
    UNKNOWN_EXCEPTION = 1002


_CODE_RE = re.compile(r"Code: (\d+)\. ")
# chDB sometimes wraps an exception in itself: "Code: 115. DB::Exception: Code: 115.
# DB::Exception: inner. (NAME) (version V). (NAME)"; ClickHouse sends only the inner text.
_NESTED_RE = re.compile(
    r"^Code: (\d+)\. DB::Exception: (Code: \1\. DB::Exception: .*)\. \(\w+\)$", re.S
)
_VERSION_RE = re.compile(r"\s*\(version [^)]*\)\.?\s*$")


class ClickHouseHttpError(VidsightError):
    """An exception to send to the client: a ClickHouse error code and its full text.

    ``text`` is the ClickHouse rendering without the trailing ``(version X)``, which the
    server appends with the engine's version when it writes the body.
    """

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text

    @classmethod
    def of(cls, code: ErrorCode, message: str) -> ClickHouseHttpError:
        """An error raised by the endpoint itself, rendered as ClickHouse renders its own."""
        return cls(int(code), f"Code: {int(code)}. DB::Exception: {message}. ({code.name})")

    @classmethod
    def from_engine(cls, raw: str) -> ClickHouseHttpError:
        """Wrap an error message from chDB (which may carry a Python-side prefix)."""
        match = _CODE_RE.search(raw)
        if match is None:
            return cls.of(ErrorCode.UNKNOWN_EXCEPTION, raw.strip() or "unknown chDB error")
        text = raw[match.start() :].strip()
        nested = _NESTED_RE.match(text)
        while nested is not None:
            text = nested.group(2)
            nested = _NESTED_RE.match(text)
        return cls(int(match.group(1)), _VERSION_RE.sub("", text))

    def body(self, version: str) -> str:
        """The response body ClickHouse would send: the text, its version, a newline."""
        return f"{self.text} (version {version})\n"


class EngineStartError(VidsightError):
    """The chDB engine could not open its data directory (most often: another process has it)."""
