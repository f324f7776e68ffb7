"""Reading Kafka record batches (message format v2) from the files of Tansu's S3 engine.

Used once, while the broker is down: to carry the schema registry's ``_schemas`` log over to
the empty broker that replaces one whose storage cannot be resumed (broker_storage.py).
Tansu stores each produced batch as ``records/<first offset, 20 digits>.batch``, the batch
exactly as the producer sent it (base offset 0 in the header; the file name holds the real
one). Only uncompressed batches are read: the registry writes them so.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from infra.stack.errors import StackError


class Record(NamedTuple):
    """One record of a stored batch."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


_HEADER = struct.Struct(">qiibIhiqqqhii")
"""baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, recordCount."""


class BatchFormatError(StackError):
    """A batch file that is not an uncompressed v2 record batch."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos``; returns the value and the position after it."""
    shift = result = 0
    while True:
        if pos >= len(data):
            raise BatchFormatError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise BatchFormatError("varint too long")


def _bytes(data: bytes, pos: int) -> tuple[bytes | None, int]:
    length, pos = _varint(data, pos)
    if length < 0:
        return None, pos
    if pos + length > len(data):
        raise BatchFormatError("truncated field")
    return data[pos : pos + length], pos + length


def decode_batch(data: bytes, first_offset: int) -> list[Record]:
    """The records of one batch whose first record has offset ``first_offset``."""
    if len(data) < _HEADER.size:
        raise BatchFormatError(f"{len(data)} bytes is shorter than a batch header")
    fields = _HEADER.unpack_from(data)
    magic, attributes, base_ts, count = fields[3], fields[5], fields[7], fields[12]
    if magic != 2:
        raise BatchFormatError(f"message format {magic}, not 2")
    if attributes & 0x07:
        raise BatchFormatError(f"compressed batch (codec {attributes & 0x07})")
    pos = _HEADER.size
    out: list[Record] = []
    for _ in range(count):
        length, pos = _varint(data, pos)
        end = pos + length
        pos += 1  # record attributes
        ts_delta, pos = _varint(data, pos)
        delta, pos = _varint(data, pos)
        key, pos = _bytes(data, pos)
        value, pos = _bytes(data, pos)
        n_headers, pos = _varint(data, pos)
        headers = []
        for _ in range(n_headers):
            name, pos = _bytes(data, pos)
            header, pos = _bytes(data, pos)
            headers.append(((name or b"").decode("utf-8", errors="replace"), header))
        if pos != end:
            raise BatchFormatError(f"record {delta} is {length} bytes but its fields end elsewhere")
        out.append(Record(first_offset + delta, base_ts + ts_delta, key, value, tuple(headers)))
    return out


def read_partition(records_dir: Path) -> Iterator[Record]:
    """Every record of a partition's ``records/`` folder, in offset order."""
    files = sorted(records_dir.glob("*.batch"), key=lambda f: int(f.stem))
    for f in files:
        try:
            yield from decode_batch(f.read_bytes(), int(f.stem))
        except BatchFormatError as exc:
            raise BatchFormatError(f"{f}: {exc}") from exc
