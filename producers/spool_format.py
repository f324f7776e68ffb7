"""The on-disk record format of a spool segment, and the spool's value types. Pure.

A record is ``<u32 payload length><u32 crc32(seq + payload)><u64 seq><payload>``, little
endian; the checksum covers the sequence number so a record copied to the wrong place is
caught too.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

HEADER = struct.Struct("<IIQ")
_SEQ = struct.Struct("<Q")
MAX_RECORD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a record starts: segment (its first seq), byte offset in it, and record seq."""

    seq: int
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One record read from the spool; ``end`` is the position of the record after it."""

    seq: int
    payload: bytes
    end: Position


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """Depth and history of a spool."""

    pending_records: int
    pending_bytes: int
    segments: int
    appended_records: int
    evicted_records: int
    evicted_bytes: int
    corrupt_records: int


def frame_record(seq: int, payload: bytes) -> bytes:
    """The on-disk bytes of one record."""
    seq_bytes = _SEQ.pack(seq)
    crc = zlib.crc32(payload, zlib.crc32(seq_bytes))
    return HEADER.pack(len(payload), crc, seq) + payload


def parse_records(
    buf: bytes, start: int = 0, limit: int | None = None
) -> tuple[list[tuple[int, int, bytes]], int, bool]:
    """Complete records in ``buf`` from ``start``: ([(offset, seq, payload)], end, corrupt).

    Stops after ``limit`` records, at the first incomplete record (``end`` is where it
    starts) or at a record whose length or checksum is wrong (``corrupt`` is True and ``end``
    is where it starts).
    """
    out: list[tuple[int, int, bytes]] = []
    pos = start
    n = len(buf)
    while pos + HEADER.size <= n and (limit is None or len(out) < limit):
        length, crc, seq = HEADER.unpack_from(buf, pos)
        if length > MAX_RECORD_BYTES:
            return out, pos, True
        end = pos + HEADER.size + length
        if end > n:
            break
        payload = bytes(buf[pos + HEADER.size : end])
        if zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq))) != crc:
            return out, pos, True
        out.append((pos, seq, payload))
        pos = end
    return out, pos, False
