"""The wire: Native blocks per client revision, per-block flushing, external data, backlog."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import lz4.frame
import pytest
from backports import zstd

from infra.clickhouse_http.codecs import response_encoder
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.native_protocol import (
    BLOCK_INFO,
    UnsupportedNativeTypeError,
    rewrite_blocks,
)
from infra.clickhouse_http.protocol import parse_request
from infra.clickhouse_http.request_input import external_table, without_table_params
from infra.clickhouse_http.server import listen_backlog


def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return bytes([len(raw)]) + raw


# What chDB writes with output_format_native_encode_types_in_binary_format=1: 2 columns, 1 row,
# t DateTime('UTC') = 1704110400 and s LowCardinality(String) = 'x'.
_LOW_CARD = (
    (1).to_bytes(8, "little")  # keys serialization version
    + (0x600).to_bytes(8, "little")  # UInt8 indexes, additional keys, update dictionary
    + (2).to_bytes(8, "little")
    + _s("")
    + _s("x")
    + (1).to_bytes(8, "little")
    + b"\x01"
)
_BINARY_BLOCK = (
    b"\x02\x01"
    + _s("t")
    + b"\x12"
    + _s("UTC")
    + (1704110400).to_bytes(4, "little")
    + _s("s")
    + b"\x26\x15"
    + _LOW_CARD
)


def test_revision_0_writes_what_chdb_writes_plain() -> None:
    out = rewrite_blocks(_BINARY_BLOCK, 0)
    assert out == (
        b"\x02\x01"
        + _s("t")
        + _s("DateTime")  # NativeWriter drops the zone for clients that predate it
        + (1704110400).to_bytes(4, "little")
        + _s("s")
        + _s("LowCardinality(String)")
        + _LOW_CARD
    )


def test_clickhouse_connect_revision_gets_block_info_and_time_zones() -> None:
    out = rewrite_blocks(_BINARY_BLOCK * 2, 54405)
    one = (
        BLOCK_INFO
        + b"\x02\x01"
        + _s("t")
        + _s("DateTime('UTC')")
        + (1704110400).to_bytes(4, "little")
        + _s("s")
        + _s("LowCardinality(String)")
        + _LOW_CARD
    )
    assert out == one * 2  # every block, also two in one piece
    # clickhouse-connect's probe: SELECT 1 AS check FORMAT Native, bytes 8..16.
    probe = rewrite_blocks(b"\x01\x01" + _s("check") + b"\x01\x01", 54405)
    assert probe[8:16] == b"\x01\x01\x05check"


def test_custom_serialization_flag_from_54454() -> None:
    block = b"\x01\x01" + _s("n") + b"\x04" + (7).to_bytes(8, "little")
    out = rewrite_blocks(block, 54454)
    assert out == BLOCK_INFO + b"\x01\x01" + _s("n") + _s("UInt64") + b"\x00" + (7).to_bytes(
        8, "little"
    )


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        (b"\x14\x06" + _s("Europe/Paris"), "DateTime64(6, 'Europe/Paris')"),
        (b"\x13\x03", "DateTime64(3)"),
        (b"\x1e\x23\x15", "Array(Nullable(String))"),
        (b"\x20\x02" + _s("a b") + b"\x01" + _s("c") + b"\x15", "Tuple(`a b` UInt8, c String)"),
        (b"\x27\x15\x04", "Map(String, UInt64)"),
        (b"\x17\x02" + _s("a") + b"\x01" + _s("b'c") + b"\x02", "Enum8('a' = 1, 'b\\'c' = 2)"),
        (b"\x1a\x12\x03", "Decimal(18, 3)"),
        (b"\x16\x05", "FixedString(5)"),
        (b"\x26\x23\x15", "LowCardinality(Nullable(String))"),
        (b"\x22\x03", "IntervalSecond"),
        (b"\x2c" + _s("Point"), "Point"),
    ],
)
def test_type_names(encoded: bytes, name: str) -> None:
    out = rewrite_blocks(b"\x01\x00" + _s("c") + encoded, 54405)
    assert out == BLOCK_INFO + b"\x01\x00" + _s("c") + _s(name)


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(UnsupportedNativeTypeError):
        rewrite_blocks(b"\x01\x01" + _s("v") + b"\x2a\x02\x15\x01", 54405)  # Variant


def test_client_protocol_version_is_parsed() -> None:
    assert (
        parse_request("POST", "client_protocol_version=54405", {}).client_protocol_version == 54405
    )
    assert parse_request("POST", "", {}).client_protocol_version == 0
    with pytest.raises(ClickHouseHttpError) as err:
        parse_request("POST", "client_protocol_version=x", {})
    assert err.value.code == ErrorCode.CANNOT_PARSE_NUMBER


class _Lz4SoFar:
    def __init__(self) -> None:
        self.encoded = b""
        self.returned = 0

    def decode(self, data: bytes) -> bytes:
        self.encoded += data
        out: bytes = lz4.frame.decompress(self.encoded + b"\0\0\0\0")
        new, self.returned = out[self.returned :], len(out)
        return new


_STREAM_DECODERS: dict[str, Callable[[], Callable[[bytes], bytes]]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress,
    "deflate": lambda: zlib.decompressobj().decompress,
    "zstd": lambda: zstd.ZstdDecompressor().decompress,
    # python-lz4's streaming decompressor holds output back, so this one decodes the frame so
    # far closed by an end mark: it proves the encoder emitted whole LZ4 blocks.
    "lz4": lambda: _Lz4SoFar().decode,
    "br": lambda: brotli.Decompressor().process,
}


@pytest.mark.parametrize("name", sorted(_STREAM_DECODERS))
def test_flush_makes_each_block_decodable_at_once(name: str) -> None:
    picked = response_encoder(name)
    assert picked is not None and picked[0] == name
    encoder = picked[1]
    decode = _STREAM_DECODERS[name]()
    seen = b""
    for block in (b"first block\n", b"second block\n" * 50, b"third\n"):
        seen += decode(encoder.encode(block) + encoder.flush())
        assert seen.endswith(block)  # nothing of this block is held back by the encoder


def test_flushed_gzip_stream_is_one_valid_stream() -> None:
    picked = response_encoder("gzip")
    assert picked is not None
    encoder = picked[1]
    out = b"".join(encoder.encode(b) + encoder.flush() for b in (b"a", b"b")) + encoder.finish()
    assert gzip.decompress(out) == b"ab"


def test_external_table_from_structure_types_and_format() -> None:
    table = external_table("ext", b"1\n", {"ext_structure": "a UInt8", "ext_format": "CSV"})
    assert (table.structure, table.format) == ("a UInt8", "CSV")
    typed = external_table("t", b"", {"t_types": "UInt8,String"})
    assert (typed.structure, typed.format) == ("_1 UInt8, _2 String", "TabSeparated")


def test_external_table_needs_a_structure_and_a_format_name() -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        external_table("ext", b"", {})
    assert err.value.code == ErrorCode.BAD_ARGUMENTS
    with pytest.raises(ClickHouseHttpError) as err:
        external_table("ext", b"", {"ext_types": "UInt8", "ext_format": "CSV SETTINGS x=1"})
    assert err.value.code == ErrorCode.UNKNOWN_FORMAT


def test_external_table_params_are_not_settings() -> None:
    settings = {"ext_structure": "a UInt8", "ext_format": "CSV", "max_threads": "2"}
    assert without_table_params(settings) == {"max_threads": "2"}


def test_listen_backlog_is_capped_by_somaxconn(tmp_path: Path) -> None:
    somaxconn = tmp_path / "somaxconn"
    somaxconn.write_text("1024\n")
    assert listen_backlog(4096, somaxconn) == 1024
    assert listen_backlog(200, somaxconn) == 200
    assert listen_backlog(4096, tmp_path / "absent") == 4096
