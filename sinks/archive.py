"""The S3 archive read back: its object keys and the messages they hold.

sinks/s3archive.py writes the archive; this is the one reader of it, used by the ETL (the lake,
camera health) and by the backtest. Each object is named by topic, UTC hour, partition, the
offset block and the topic's incarnation::

    <prefix>/<topic>/dt=YYYY-MM-DD/hour=HH/partition=PPP/<first>-<last>[.<topic id>].avro

Everything else under the bucket (the writers' claims under ``<prefix>.writers/``, lake files,
evidence) is not an archive object and :func:`parse_key` says so with None. The reader passes
the S3 client's own errors (botocore) through: each caller decides what a failed read means.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sinks.batching import SourceMessage
from sinks.s3archive import decode

_KEY = re.compile(
    r"^(?P<topic>[^/]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
    r"partition=(?P<partition>\d{3,})/(?P<first>\d{20})-(?P<last>\d{20})"
    r"(?:\.(?P<topic_id>[0-9a-f]{32}))?\.avro$"
)


@dataclass(frozen=True, slots=True)
class ArchiveKey:
    """What an archive object's key says about it."""

    key: str
    topic: str
    hour: datetime
    partition: int
    block_first: int
    block_last: int
    topic_id: str = ""


def parse_key(prefix: str, key: str) -> ArchiveKey | None:
    """The parts of an archive object's key; None for any other key under the bucket."""
    head = prefix.rstrip("/") + "/"
    if not key.startswith(head):
        return None
    m = _KEY.match(key[len(head) :])
    if m is None:
        return None
    hour = datetime.strptime(f"{m['dt']} {m['hour']}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    return ArchiveKey(
        key,
        m["topic"],
        hour,
        int(m["partition"]),
        int(m["first"]),
        int(m["last"]),
        m["topic_id"] or "",
    )


def hour_prefix(prefix: str, topic: str, hour: datetime) -> str:
    """The key prefix of one topic's objects of one hour."""
    return f"{prefix.rstrip('/')}/{topic}/dt={hour:%Y-%m-%d}/hour={hour:%H}/"


def day_prefix(prefix: str, topic: str, day: datetime) -> str:
    """The key prefix of one topic's objects of one UTC day."""
    return f"{prefix.rstrip('/')}/{topic}/dt={day:%Y-%m-%d}/"


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object as the bucket lists it."""

    key: str
    size: int
    etag: str


class ArchiveReader:
    """Lists and reads the archive's objects in one bucket through a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def listing(self, key_prefix: str) -> Iterator[StoredObject]:
        """Every object under a key prefix (archive objects or not), in key order."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=key_prefix
        )
        for page in pages:
            for obj in page.get("Contents", ()):
                yield StoredObject(obj["Key"], int(obj.get("Size", 0)), str(obj.get("ETag", "")))

    def objects(self, key_prefix: str, topic: str | None = None) -> list[tuple[ArchiveKey, str]]:
        """The archive objects under a key prefix (of ``topic`` when given), sorted by key,
        each with its ETag; claims and stray keys are left out."""
        found = []
        for obj in self.listing(key_prefix):
            parsed = parse_key(self.prefix, obj.key)
            if parsed is not None and (topic is None or parsed.topic == topic):
                found.append((parsed, obj.etag))
        return sorted(found, key=lambda entry: entry[0].key)

    def read(self, key: str) -> bytes:
        """The bytes of one object."""
        data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def messages(self, key: ArchiveKey) -> list[SourceMessage]:
        """The archived messages of one object, in offset order."""
        return decode(key.topic, self.read(key.key))
