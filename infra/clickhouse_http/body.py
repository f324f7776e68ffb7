"""The request body as a stream of decoded pieces, read on demand from the socket.

ClickHouse reads ``query`` parameter + newline + body as one stream: a SELECT may be split
between the two, and an INSERT's data follows its statement. ``QueryInput`` gives the executor
that stream: it reads the head (enough to see the statement) and then hands the rest out piece
by piece, so a large insert flows from the socket into chDB without being held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from infra.clickhouse_http.codecs import Decoder, decode_error
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode

PIECE = 1 << 20  # bytes read from the socket at a time


class Readable(Protocol):
    """The socket file of a request (what http.server's rfile offers)."""

    def read(self, size: int = ..., /) -> bytes: ...
    def readline(self, size: int = ..., /) -> bytes: ...


class RawBody:
    """The raw (still content-encoded) body: Content-Length bytes, or chunked transfer coding."""

    def __init__(
        self,
        rfile: Readable,
        content_length: int | None,
        chunked: bool,
        limit: int | None = None,
    ) -> None:
        self._rfile = rfile
        self._remaining = 0 if content_length is None else content_length
        self._chunked = chunked
        self._chunk_left = 0
        self._limit = limit  # a chunked body longer than this is refused (413)
        self._read = 0
        self.too_large = False
        self.done = not chunked and self._remaining == 0

    def read(self, limit: int = PIECE) -> bytes:
        """Up to limit bytes of the body; b"" once it is all read."""
        if self.done:
            return b""
        try:
            return self._read_chunked(limit) if self._chunked else self._read_sized(limit)
        except TimeoutError:
            raise ClickHouseHttpError.of(
                ErrorCode.SOCKET_TIMEOUT, "Timeout while reading the request body"
            ) from None

    def _read_sized(self, limit: int) -> bytes:
        data = self._rfile.read(min(limit, self._remaining))
        if not data:
            raise _truncated()
        self._remaining -= len(data)
        self.done = self._remaining == 0
        return data

    def _read_chunked(self, limit: int) -> bytes:
        if self._chunk_left == 0:
            line = self._rfile.readline(65537)
            size_text = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(size_text, 16)
            except ValueError:
                raise ClickHouseHttpError.of(
                    ErrorCode.CANNOT_READ_ALL_DATA,
                    f"Malformed chunk size line in chunked request body: {line[:40]!r}",
                ) from None
            if self._chunk_left == 0:
                # Trailer section: header lines up to an empty line.
                while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                self.done = True
                return b""
        data = self._rfile.read(min(limit, self._chunk_left))
        if not data:
            raise _truncated()
        self._read += len(data)
        if self._limit is not None and self._read > self._limit:
            self.too_large = self.done = True
            raise ClickHouseHttpError.of(
                ErrorCode.QUERY_IS_TOO_LARGE,
                f"Request body is larger than this server accepts ({self._limit} bytes)",
            )
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(3)  # the CRLF after the chunk data
        return data

    def drain(self) -> None:
        """Read and drop the rest, so the connection can carry the next request."""
        while not self.done:
            self.read()


def _truncated() -> ClickHouseHttpError:
    return ClickHouseHttpError.of(
        ErrorCode.CANNOT_READ_ALL_DATA, "The client closed the connection before the whole body"
    )


class QueryInput:
    """``query`` parameter + newline + decoded body, read as one stream."""

    def __init__(self, prefix: bytes, raw: RawBody, decoder: Decoder, encoding: str) -> None:
        self._buffer = prefix
        self._raw = raw
        self._decoder = decoder
        self._encoding = encoding

    def _pull(self) -> bytes:
        while not self._raw.done:
            piece = self._raw.read()
            try:
                decoded = self._decoder.decode(piece)
            except Exception as exc:  # each codec raises its own error type
                raise decode_error(self._encoding or "identity", exc) from exc
            if decoded:
                return decoded
        return b""

    def head(self, size: int) -> tuple[bytes, bool]:
        """At least size bytes from the start (fewer at the end) and whether that is all."""
        parts = [self._buffer]
        have = len(self._buffer)
        while have < size:
            piece = self._pull()
            if not piece:
                break
            parts.append(piece)
            have += len(piece)
        self._buffer = b"".join(parts)
        # Decoders return all the output of what they were given, so a fully read raw body
        # means the stream is complete.
        return self._buffer, self._raw.done

    def rest(self, offset: int) -> Iterator[bytes]:
        """Everything from offset (into the head already read) to the end, piece by piece."""
        first, self._buffer = self._buffer[offset:], b""
        if first:
            yield first
        while piece := self._pull():
            yield piece

    def read_all(self, limit: int) -> bytes:
        """The whole stream; a stream longer than limit is refused as too large."""
        data, _ = self.head(limit + 1)
        if len(data) > limit:
            raise ClickHouseHttpError.of(
                ErrorCode.QUERY_IS_TOO_LARGE,
                f"Query is too large ({len(data)} bytes read so far, the limit is {limit})",
            )
        return data
