"""The spool format of events waiting for the broker, and schema fingerprints. Pure.

Events are spooled as schemaless Avro (the Confluent header is added when they are sent), so
an edge can start and spool while the schema registry is unreachable. Each record names the
schema it was written with by a fingerprint (first 8 bytes of the SHA-256 of the schema's
canonical text); the texts are stashed next to the spool, so records written by an older
version of the edge are still framed with the id of the schema they were written with.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

_HEAD = struct.Struct("<BQB")  # version, appended_us, topic length
_KEY = struct.Struct("<H")
FORMAT_VERSION = 1
FP_BYTES = 8


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    """One event in the spool: where it goes, its key, schema and schemaless Avro value."""

    topic: str
    key: bytes
    schema_fp: bytes
    value: bytes
    appended_us: int


def fingerprint(schema_text: str) -> bytes:
    """Short schema fingerprint used in spool records."""
    return hashlib.sha256(schema_text.encode()).digest()[:FP_BYTES]


def encode_event(event: SpooledEvent) -> bytes:
    """Spool payload of an event."""
    topic = event.topic.encode()
    if len(event.schema_fp) != FP_BYTES:
        raise ValueError(f"schema fingerprint must be {FP_BYTES} bytes")
    return b"".join(
        (
            _HEAD.pack(FORMAT_VERSION, event.appended_us, len(topic)),
            topic,
            _KEY.pack(len(event.key)),
            event.key,
            event.schema_fp,
            event.value,
        )
    )


def decode_event(payload: bytes) -> SpooledEvent:
    """Inverse of ``encode_event``; ValueError when the payload is malformed."""
    try:
        version, appended_us, topic_len = _HEAD.unpack_from(payload)
        if version != FORMAT_VERSION:
            raise ValueError(f"unknown event spool format version {version}")
        pos = _HEAD.size
        topic = payload[pos : pos + topic_len].decode()
        pos += topic_len
        (key_len,) = _KEY.unpack_from(payload, pos)
        pos += _KEY.size
        key = payload[pos : pos + key_len]
        pos += key_len
        fp = payload[pos : pos + FP_BYTES]
        pos += FP_BYTES
        if len(fp) != FP_BYTES:
            raise ValueError("truncated event spool record")
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed event spool record: {exc}") from exc
    return SpooledEvent(topic, bytes(key), bytes(fp), bytes(payload[pos:]), appended_us)


class SchemaStash:
    """Schema texts by fingerprint, as files ``<dir>/<fingerprint hex>.avsc``."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def add(self, schema_text: str) -> bytes:
        """Store a schema text (idempotent) and return its fingerprint."""
        fp = fingerprint(schema_text)
        path = self.dir / f"{fp.hex()}.avsc"
        if not path.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(schema_text, encoding="utf-8")
            tmp.replace(path)
        return fp

    def text(self, fp: bytes) -> str | None:
        """The schema text of a fingerprint, or None when it was never stashed."""
        try:
            return (self.dir / f"{fp.hex()}.avsc").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
