"""HTTP content codings: request bodies in (Content-Encoding), result bodies out (Accept-Encoding).

These are the codings ClickHouse's HTTP interface speaks (lz4 is the LZ4 *frame* format, deflate
is the zlib stream, br is brotli). Clients send several frames back to back (clickhouse-connect
compresses each insert block as its own lz4 or zstd frame), so every decoder restarts on the
next frame instead of stopping at the end of the first one. All codecs work incrementally, so a
large body is never held whole in memory. A streamed result is flushed after every block
(``flush``), so the client decodes each block as soon as the engine produced it.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Protocol

from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode

try:
    import lz4.frame as _lz4
except ImportError:  # pragma: no cover - lz4 ships with clickhouse-connect
    _lz4 = None

try:
    import brotli as _brotli
except ImportError:  # pragma: no cover - a dependency of the project
    _brotli = None

try:
    from backports import zstd as _zstd  # in the standard library as compression.zstd in 3.14
except ImportError:  # pragma: no cover - clickhouse-connect depends on it below 3.14
    _zstd = None  # type: ignore[assignment]


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes) -> bytes: ...


class Decoder(Protocol):
    """Incremental decoder of a request body."""

    def decode(self, data: bytes) -> bytes:
        """Decode the next piece of the body."""
        ...


class Encoder(Protocol):
    """Incremental encoder of a response body."""

    def encode(self, data: bytes | memoryview) -> bytes:
        """Encode the next piece of the body (may return b"" while it buffers)."""
        ...

    def flush(self) -> bytes:
        """Everything encoded so far, decodable by the client now (the stream goes on)."""
        ...

    def finish(self) -> bytes:
        """The tail of the encoded stream."""
        ...


class _Identity:
    def decode(self, data: bytes) -> bytes:
        return data


class _Frames:
    """Decodes concatenated frames: a fresh decompressor for each frame."""

    def __init__(self, factory: Callable[[], _Decompressor]) -> None:
        self._factory = factory
        self._current = factory()

    def decode(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data:
            out.append(self._current.decompress(data))
            if not self._current.eof:
                break
            data = self._current.unused_data
            self._current = self._factory()
        return b"".join(out)


def _decoder_factories() -> dict[str, Callable[[], _Decompressor]]:
    factories: dict[str, Callable[[], _Decompressor]] = {
        "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
        "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
        "deflate": lambda: zlib.decompressobj(zlib.MAX_WBITS),
        "xz": lzma.LZMADecompressor,
        "bz2": bz2.BZ2Decompressor,
    }
    if _lz4 is not None:
        factories["lz4"] = _lz4.LZ4FrameDecompressor
    if _zstd is not None:
        factories["zstd"] = _zstd.ZstdDecompressor
        factories["zst"] = _zstd.ZstdDecompressor
    if _brotli is not None:
        factories["br"] = _Brotli
    return factories


class _Brotli:
    """brotli's decompressor in the shape of the others (a brotli stream is one frame)."""

    def __init__(self) -> None:
        assert _brotli is not None
        self._obj = _brotli.Decompressor()
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        return bool(self._obj.is_finished())

    def decompress(self, data: bytes) -> bytes:
        return bytes(self._obj.process(data))


_DECODERS = _decoder_factories()


def request_decoder(content_encoding: str) -> Decoder:
    """The decoder for a request's Content-Encoding (empty or identity: none)."""
    name = content_encoding.strip().lower()
    if name in ("", "identity", "none"):
        return _Identity()
    factory = _DECODERS.get(name)
    if factory is None:
        raise ClickHouseHttpError.of(
            ErrorCode.UNKNOWN_COMPRESSION_METHOD,
            f"Unknown compression method '{content_encoding}': supported are "
            + ", ".join(sorted(_DECODERS)),
        )
    return _Frames(factory)


def decode_error(name: str, exc: Exception) -> ClickHouseHttpError:
    """The error for a body that does not decode as its Content-Encoding says."""
    return ClickHouseHttpError.of(
        ErrorCode.CANNOT_DECOMPRESS, f"Cannot decompress the request body as {name}: {exc}"
    )


class _Zlib:
    def __init__(self, wbits: int, level: int) -> None:
        self._obj = zlib.compressobj(level, zlib.DEFLATED, wbits)

    def encode(self, data: bytes | memoryview) -> bytes:
        return self._obj.compress(data)

    def flush(self) -> bytes:
        return self._obj.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._obj.flush()


class _Lz4:
    def __init__(self) -> None:
        assert _lz4 is not None
        # auto_flush: compress() returns whole LZ4 blocks at once instead of buffering them.
        self._obj = _lz4.LZ4FrameCompressor(auto_flush=True)
        self._header: bytes | None = self._obj.begin()

    def encode(self, data: bytes | memoryview) -> bytes:
        head, self._header = self._header or b"", None
        out: bytes = self._obj.compress(bytes(data))
        return head + out

    def flush(self) -> bytes:
        head, self._header = self._header or b"", None
        return head

    def finish(self) -> bytes:
        head, self._header = self._header or b"", None
        out: bytes = self._obj.flush()
        return head + out


class _Zstd:
    def __init__(self) -> None:
        assert _zstd is not None
        self._obj = _zstd.ZstdCompressor()

    def encode(self, data: bytes | memoryview) -> bytes:
        return self._obj.compress(data)

    def flush(self) -> bytes:
        return self._obj.flush(_zstd.ZstdCompressor.FLUSH_BLOCK)

    def finish(self) -> bytes:
        return self._obj.flush()


class _BrotliEncoder:
    def __init__(self, level: int) -> None:
        assert _brotli is not None
        self._obj = _brotli.Compressor(quality=min(max(level, 0), 11))

    def encode(self, data: bytes | memoryview) -> bytes:
        return bytes(self._obj.process(bytes(data)))

    def flush(self) -> bytes:
        return bytes(self._obj.flush())

    def finish(self) -> bytes:
        return bytes(self._obj.finish())


def _encoder_factories(level: int) -> dict[str, Callable[[], Encoder]]:
    # In ClickHouse's order of preference (chooseHTTPCompressionMethod), best first.
    factories: dict[str, Callable[[], Encoder]] = {}
    if _zstd is not None:
        factories["zstd"] = _Zstd
    if _brotli is not None:
        factories["br"] = lambda: _BrotliEncoder(level)
    if _lz4 is not None:
        factories["lz4"] = _Lz4
    factories["gzip"] = lambda: _Zlib(16 + zlib.MAX_WBITS, level)
    factories["deflate"] = lambda: _Zlib(zlib.MAX_WBITS, level)
    return factories


def response_encoder(accept_encoding: str, level: int = 3) -> tuple[str, Encoder] | None:
    """The coding ClickHouse would pick for this Accept-Encoding, with a fresh encoder.

    ClickHouse picks by its own preference order, not the client's; codings with q=0 are
    refused. ``level`` is http_zlib_compression_level (gzip/deflate/br), 3 by default.
    """
    offered: set[str] = set()
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if params.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        offered.add(name.strip().lower())
    for name, factory in _encoder_factories(level).items():
        if name in offered:
            return name, factory()
    return None
