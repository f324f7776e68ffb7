"""Evidence object naming and the spool format of evidence waiting for upload. Pure.

Key layout (DESIGN.md): ``evidence/<camera>/<yyyy>/<mm>/<dd>/<hh>/<frame time>.jpg`` where
the date parts are the frame's UTC event time and ``<frame time>`` is that time in UTC
microseconds, so keys sort by time within an hour and a frame maps to exactly one key (a
re-upload after a restart overwrites the same object). Events carry
``s3://<bucket>/<key>`` with the object's size and lower-case hex SHA-256.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Protocol

from schemas.records import from_micros

_KEY_LEN = struct.Struct("<H")


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """What an event says about its evidence object."""

    uri: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class EvidenceObject:
    """An evidence image to store: key, bytes and their digest."""

    key: str
    data: bytes
    sha256: str

    def ref(self, bucket: str) -> EvidenceRef:
        """The reference events carry."""
        return EvidenceRef(f"s3://{bucket}/{self.key}", len(self.data), self.sha256)


class EvidenceSink(Protocol):
    """Where the pipeline puts evidence; returns the reference once it is durable."""

    def put(self, camera_id: str, frame_ts_us: int, jpeg: bytes) -> EvidenceRef:
        """Store (or durably queue) one JPEG."""
        ...


def evidence_key(camera_id: str, frame_ts_us: int) -> str:
    """The object key of a frame's JPEG evidence."""
    t = from_micros(frame_ts_us)
    return f"evidence/{camera_id}/{t:%Y}/{t:%m}/{t:%d}/{t:%H}/{frame_ts_us}.jpg"


def evidence_object(camera_id: str, frame_ts_us: int, jpeg: bytes) -> EvidenceObject:
    """Key and digest of one JPEG."""
    return EvidenceObject(
        evidence_key(camera_id, frame_ts_us), jpeg, hashlib.sha256(jpeg).hexdigest()
    )


def encode_spooled(obj: EvidenceObject) -> bytes:
    """Spool payload: ``<u16 key length><key utf-8><32-byte sha256><data>``."""
    key = obj.key.encode()
    return _KEY_LEN.pack(len(key)) + key + bytes.fromhex(obj.sha256) + obj.data


def decode_spooled(payload: bytes) -> EvidenceObject:
    """Inverse of ``encode_spooled``; ValueError when the payload is malformed."""
    if len(payload) < _KEY_LEN.size + 32:
        raise ValueError(f"evidence spool record of {len(payload)} bytes is too short")
    (n,) = _KEY_LEN.unpack_from(payload)
    key_end = _KEY_LEN.size + n
    key = payload[_KEY_LEN.size : key_end].decode()
    digest = payload[key_end : key_end + 32].hex()
    return EvidenceObject(key, payload[key_end + 32 :], digest)
