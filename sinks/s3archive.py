"""``S3ArchiveSink``: every topic archived as Avro object container files with deterministic keys.

Key scheme (UTC hour of the Kafka record timestamp, offsets zero-padded to 20 digits)::

    <prefix>/<topic>/dt=YYYY-MM-DD/hour=HH/partition=PPP/<block first>-<block last>.<topic id>.avro

``<topic id>`` is the topic's incarnation (sinks/incarnation.py; 32 hex digits, left out
where the broker gives no ids): a topic made anew numbers its offsets from 0 again, and its
objects must not replace the old incarnation's.

A partition's offsets are cut into fixed *blocks* of ``archive_block_offsets`` offsets (block
``k`` holds offsets ``k*N .. k*N+N-1``); an object holds the records of one block that fall in
one hour. The name depends on the offsets and the record timestamps only, never on how the
sink happened to batch them, so a replay, a redelivery after a crash or a rebuild writes the
same objects with the same bytes. A batch never spans two blocks (the sink asks the loop to
flush at a block boundary), and every batch merges with the object already there, record by
offset: a record once archived stays, whatever is written later (a replay of a compacted
topic holds only some offsets of a block, and must not shrink its objects), so an object
converges to exactly the block's records of that hour. Merging is read-modify-write; the
writers of a partition are fenced (sinks/s3fence.py) so two of them cannot lose each other's
records.

Every catalog topic is archived except internal state (``NOT_ARCHIVED``: the processor's
changelog, which is rebuilt from the events). Each object holds the raw messages
(``ARCHIVE_SCHEMA``): the value bytes exactly as on the
topic (Confluent-framed Avro, or the original bytes on vidsight.dlq), key, timestamp,
partition, offset and headers, so replaying from the archive is byte-exact. The container's
metadata names the topic, partition, block and the value subject; its sync marker is derived
from the key, which makes the file bytes deterministic too.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import fastavro
from botocore.exceptions import BotoCoreError, ClientError

from schemas import catalog
from schemas.records import AvroRecord
from sinks.base import Sink
from sinks.batching import Batch, BatchPolicy, PartitionBuffer, SourceMessage, TopicPartition
from sinks.errors import StoreUnavailableError
from sinks.s3fence import ArchiveHandoffError, WriterFence
from sinks.settings import SinkSettings
from vidsight.s3 import s3_client

log = logging.getLogger(__name__)

ARCHIVE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ArchivedMessage",
    "namespace": "io.vidsight.archive.v1",
    "doc": "One Kafka message exactly as it was on its topic.",
    "fields": [
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "key", "type": ["null", "bytes"]},
        {"name": "value", "type": ["null", "bytes"], "doc": "the raw value bytes"},
        {
            "name": "headers",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Header",
                    "fields": [
                        {"name": "key", "type": "string"},
                        {"name": "value", "type": ["null", "bytes"]},
                    ],
                },
            },
        },
    ],
}
_PARSED = fastavro.parse_schema(ARCHIVE_SCHEMA)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR_MS = 3_600_000

NOT_ARCHIVED = frozenset({"vidsight.processor-changelog"})
"""Internal state topics: rebuilt from the event topics, so not worth keeping forever."""


# ---- pure key naming ---------------------------------------------------------------------------


def block_of(offset: int, block: int) -> int:
    """The first offset of the block an offset is in."""
    return offset - offset % block


def hour_of(timestamp_ms: int) -> datetime:
    """The UTC hour of a Kafka timestamp (records without one go to the epoch hour)."""
    seconds = max(0, timestamp_ms) // 1000
    return datetime.fromtimestamp(seconds - seconds % 3600, UTC)


def object_key(
    prefix: str,
    topic: str,
    partition: int,
    *,
    hour: datetime,
    block_start: int,
    block: int,
    topic_id: str = "",
) -> str:
    """The archive key of a block's records in one hour (of one incarnation of the topic:
    a topic made anew numbers its offsets from 0 again, and must not overwrite the old)."""
    incarnation = f".{topic_id}" if topic_id else ""
    return (
        f"{prefix}/{topic}/dt={hour:%Y-%m-%d}/hour={hour:%H}/partition={partition:03d}/"
        f"{block_start:020d}-{block_start + block - 1:020d}{incarnation}.avro"
    )


@dataclass(frozen=True, slots=True)
class ArchiveObject:
    """The records of one object a batch touches."""

    key: str
    block_start: int
    hour: datetime
    messages: Sequence[SourceMessage]


def plan_objects(
    prefix: str,
    topic: str,
    partition: int,
    messages: Sequence[SourceMessage],
    *,
    block: int,
    topic_id: str = "",
) -> list[ArchiveObject]:
    """Group a batch's messages (offset order) into the objects they belong to."""
    # Grouped by integer hour numbers: a datetime per message would cost more than the rest.
    groups: dict[tuple[int, int], list[SourceMessage]] = {}
    for m in messages:
        key = (m.offset - m.offset % block, max(0, m.timestamp_ms) // _HOUR_MS)
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
        group.append(m)
    objects = []
    for (start, hour_number), msgs in sorted(groups.items()):
        hour = hour_of(hour_number * _HOUR_MS)
        name = object_key(
            prefix, topic, partition, hour=hour, block_start=start, block=block, topic_id=topic_id
        )
        objects.append(ArchiveObject(name, start, hour, msgs))
    return objects


def to_datum(m: SourceMessage) -> dict[str, Any]:
    """The archive record of a message."""
    return {
        "partition": m.partition,
        "offset": m.offset,
        "timestamp": max(0, m.timestamp_ms),
        "key": m.key,
        "value": m.value,
        "headers": [{"key": k, "value": v} for k, v in m.headers] if m.headers else [],
    }


def from_datum(topic: str, d: Mapping[str, Any]) -> SourceMessage:
    """A message back from its archive record."""
    ts = d["timestamp"]
    if isinstance(ts, datetime):  # readers apply the timestamp-millis logical type
        ts = (ts - _EPOCH) // timedelta(milliseconds=1)
    return SourceMessage(
        topic,
        d["partition"],
        d["offset"],
        d["key"],
        d["value"],
        ts,
        tuple((h["key"], h["value"]) for h in d["headers"]),
    )


def encode(
    key: str,
    messages: Iterable[SourceMessage],
    *,
    topic: str,
    partition: int,
    block_start: int,
    block: int,
    codec: str,
    topic_id: str = "",
) -> bytes:
    """The Avro container file of an object (deterministic bytes for the same input)."""
    spec = catalog.topic(topic) if topic in {s.name for s in catalog.CATALOG} else None
    metadata = {
        "vidsight.topic": topic,
        "vidsight.topic_id": topic_id,
        "vidsight.partition": str(partition),
        "vidsight.block.first_offset": str(block_start),
        "vidsight.block.last_offset": str(block_start + block - 1),
        "vidsight.value.format": "raw"
        if spec is None or spec.subject is None
        else f"confluent-avro:{spec.subject}",
    }
    out = io.BytesIO()
    fastavro.writer(
        out,
        _PARSED,
        (to_datum(m) for m in messages),
        codec=codec,
        metadata=metadata,
        sync_marker=hashlib.md5(key.encode(), usedforsecurity=False).digest(),
    )
    return out.getvalue()


def decode(topic: str, data: bytes) -> list[SourceMessage]:
    """The messages of an archive object."""
    return [from_datum(topic, d) for d in fastavro.reader(io.BytesIO(data))]  # type: ignore[arg-type]


def merge(existing: Iterable[SourceMessage], new: Iterable[SourceMessage]) -> list[SourceMessage]:
    """Union by offset, in offset order; an offset already archived keeps its record.

    One (topic id, partition, offset) is one message, so the two are the same record; where
    they differ (a broker without topic ids whose topic was made anew) the archive keeps
    what it had rather than rewrite history, and says so.
    """
    by_offset = {m.offset: m for m in existing}
    differ = 0
    for m in new:
        kept = by_offset.setdefault(m.offset, m)
        differ += kept is not m and kept != m
    if differ:
        log.error("archive kept %d archived records that differ from their redelivery", differ)
    return [by_offset[o] for o in sorted(by_offset)]


def contents(
    obj: ArchiveObject, existing: Callable[[], Iterable[SourceMessage]]
) -> Sequence[SourceMessage]:
    """What an object holds after a batch: the batch's records merged with what it held.

    Always read, even for a batch that starts at the block's first offset: a replay of a
    compacted topic starts there with only some of the block's offsets.
    """
    return merge(existing(), obj.messages)


# ---- the sink ----------------------------------------------------------------------------------


class S3ArchiveSink(Sink[SourceMessage]):
    """Archives every catalog topic to S3 as Avro container files."""

    name = "s3"
    topics = tuple(spec.name for spec in catalog.CATALOG if spec.name not in NOT_ARCHIVED)
    decodes = False

    def __init__(self, settings: SinkSettings) -> None:
        super().__init__(settings)
        self.bucket = settings.s3_bucket
        self.prefix = settings.archive_prefix
        self.block = settings.archive_block_offsets
        self._client: Any = None
        # A PUT gets one attempt of at most connect + read timeout; the hand-off outlasts it.
        self.fence = WriterFence(
            self._s3, self.bucket, self.prefix, handoff_s=3 * settings.store_timeout_s + 5
        )
        # Batches are whole blocks: a smaller count limit would write each block twice.
        self.policy = BatchPolicy(
            max(settings.batch_max_records, self.block),
            settings.batch_max_bytes,
            settings.batch_max_age_s,
        )

    def prepare(self, message: SourceMessage, record: AvroRecord | None) -> SourceMessage:
        """The raw message itself."""
        return message

    def cuts_batch(self, buf: PartitionBuffer[SourceMessage], message: SourceMessage) -> bool:
        """A message in another block than the buffered range ends the batch before it."""
        return block_of(message.offset, self.block) != block_of(buf.first_offset, self.block)

    def _s3(self) -> Any:
        if self._client is None:
            s = self.settings
            # No client retries: a retried PUT could land after the writer's fence check by
            # more than the hand-off (sinks/s3fence.py); the runner retries.
            self._client = s3_client(
                s, timeout_s=s.store_timeout_s, read_timeout_s=s.store_timeout_s * 2, retries=1
            )
        return self._client

    def open(self) -> None:
        """Check that the bucket answers."""
        try:
            self._s3().head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("s3", f"bucket {self.bucket}: {exc}") from exc

    def drop(self) -> None:
        """Nothing: the archive outlives topic retention, so a rebuild rewrites it in place.

        Deleting it would lose what the topics no longer hold; the deterministic keys make a
        rebuild overwrite every object it covers with the same bytes instead.
        """

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Forget partitions and release their claims (revoked: the next owner goes on)."""
        tps = list(tps)
        super().forget(tps)
        for tp in tps:
            self.fence.release(tp.topic, tp.partition)

    def assigned(self, tps: Iterable[TopicPartition]) -> None:
        """Claim every assigned partition now, so the hand-off waits of partitions taken over
        from a crashed writer run together, not one after another at each first write."""
        for tp in tps:
            try:
                self.fence.before_read(tp.topic, tp.partition, self.incarnation_of(tp.topic))
            except ArchiveHandoffError:
                continue  # the wait has started; the first write waits out the rest
            except (BotoCoreError, ClientError, StoreUnavailableError) as exc:
                log.warning(
                    "archive claim of %s not taken yet (the first write retries): %s", tp, exc
                )

    def close(self) -> None:
        """Release the claims (a clean stop)."""
        self.fence.release_all()

    def write(self, batch: Batch[SourceMessage]) -> int:
        """Write (or merge into) the objects of one block's batch."""
        messages = [item.value for item in batch.items]
        s3 = self._s3()
        written = 0
        try:
            topic_id = self.incarnation_of(batch.topic)
            objects = plan_objects(
                self.prefix,
                batch.topic,
                batch.partition,
                messages,
                block=self.block,
                topic_id=topic_id,
            )
            self.fence.before_read(batch.topic, batch.partition, topic_id)
            for obj in objects:
                content = contents(obj, partial(self._existing, s3, batch.topic, obj.key))
                body = encode(
                    obj.key,
                    content,
                    topic=batch.topic,
                    partition=batch.partition,
                    block_start=obj.block_start,
                    block=self.block,
                    codec=self.settings.archive_codec,
                    topic_id=topic_id,
                )
                claim = self.fence.before_write(batch.topic, batch.partition)
                s3.put_object(
                    Bucket=self.bucket,
                    Key=obj.key,
                    Body=body,
                    ContentType="avro/binary",
                    Metadata={"writer": claim.writer, "writer-epoch": str(claim.epoch)},
                )
                written += len(obj.messages)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("s3", f"{type(exc).__name__}: {exc}") from exc
        return written

    def _existing(self, s3: Any, topic: str, key: str) -> list[SourceMessage]:
        try:
            body = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return []
            raise
        try:
            return decode(topic, body)
        except (ValueError, EOFError, TypeError) as exc:
            # Overwriting it would lose records committed long ago: stop and say so.
            log.error("unreadable archive object key=%s: %s", key, exc)
            raise StoreUnavailableError(
                "s3", f"archive object {key} is unreadable ({exc}); move it away to go on"
            ) from exc
