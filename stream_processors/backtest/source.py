"""Where a backtest's inputs come from: the S3 archive of the frames and detections topics,
the feedback topic and the sensors topic (never the stores' projections).

Archive objects (sinks/s3archive.py) hold the raw Kafka messages, named by the UTC hour of
the Kafka record timestamp. A record is stamped when it is produced, which is at or after
its event time, so the hours from the range's start to its end plus ``archive_slack_s`` are
listed; records are then kept by key (the camera) and by event time within the range.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from confluent_kafka import Consumer, Message

from schemas import catalog
from schemas.errors import SerializationError
from schemas.records import Detections, Feedback, FrameRef
from schemas.serde import Serde, TopicSerde
from sinks import archive
from sinks.archive import ArchiveKey, hour_prefix
from sinks.s3archive import decode as decode_archive
from stream_processors.backtest.settings import BacktestSettings
from stream_processors.errors import BacktestError
from stream_processors.runtime.kafka import (
    assign_from_beginning,
    consumer_config,
    end_offsets,
    read_to_end,
)
from vidsight.s3 import s3_client

log = logging.getLogger(__name__)

R = TypeVar("R", Detections, FrameRef)


def archive_hours(start_us: int, end_us: int, slack_s: float) -> list[datetime]:
    """The UTC hours whose archive objects may hold records of [start_us, end_us): from the
    hour before the start's (clocks of edge and broker differ a little) to the end's plus
    ``slack_s``."""
    first = datetime.fromtimestamp(start_us // 1_000_000, UTC).replace(
        minute=0, second=0, microsecond=0
    ) - timedelta(hours=1)
    last = datetime.fromtimestamp((end_us + round(slack_s * 1_000_000)) // 1_000_000, UTC)
    hours = []
    hour = first
    while hour <= last:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def decode_by_camera(
    codec: TopicSerde[R], topic: str, blob: bytes, cameras: Collection[str]
) -> dict[str, list[R]]:
    """The records of one archive object for ``cameras``, by camera, in offset order."""
    keys = {c.encode(): c for c in cameras}
    decode = codec.decode
    out: dict[str, list[R]] = {c: [] for c in cameras}
    for m in decode_archive(topic, blob):
        camera = keys.get(m.key) if m.key is not None else None
        if camera is None or m.value is None:
            continue  # other cameras' values are never decoded: the key says whose they are
        try:
            out[camera].append(decode(m.value, partition=m.partition, offset=m.offset))
        except SerializationError as exc:
            log.warning("skipping an unreadable archived record: %s", exc)
    return out


def decode_objects(
    codec: TopicSerde[R],
    topic: str,
    blobs: Iterable[bytes],
    cameras: Collection[str],
    *,
    start_us: int,
    end_us: int,
) -> list[R]:
    """The records of archive objects for ``cameras`` with event time in [start_us, end_us)."""
    return [
        rec
        for blob in blobs
        for recs in decode_by_camera(codec, topic, blob, cameras).values()
        for rec in recs
        if start_us <= rec.frame_ts < end_us
    ]


class DecodedCache:
    """Decoded records by (object key, ETag, camera), least recently used dropped first.

    Archive objects of closed hours do not change, and the console backtests the same recent
    hours again and again (one candidate after another): decoding is most of a cold
    backtest's cost (bench/bench_backtest.py), so a reader kept between backtests keeps what
    it decoded. The ETag makes an object that grew (a late batch merged into it) a new entry.
    """

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self._entries: OrderedDict[tuple[str, str, str], list[Any]] = OrderedDict()
        self._records = 0

    def get(self, key: tuple[str, str, str]) -> list[Any] | None:
        """The cached records of an entry (and mark it recently used)."""
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[str, str, str], records: list[Any]) -> None:
        """Keep an entry, dropping the least recently used beyond ``max_records``."""
        old = self._entries.pop(key, None)
        self._records += len(records) - (0 if old is None else len(old))
        self._entries[key] = records
        while self._records > self.max_records and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._records -= len(dropped)


class ArchiveReader:
    """Reads archive objects of a topic for a time range from S3."""

    def __init__(self, settings: BacktestSettings, client: Any | None = None) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self._archive = archive.ArchiveReader(
            client if client is not None else _client(settings),
            settings.s3_bucket,
            settings.archive_prefix,
        )
        self.objects_read = 0
        self.cache = DecodedCache(settings.archive_cache_records)

    @property
    def location(self) -> str:
        """The archive's address, for reports."""
        return f"s3://{self.bucket}/{self.settings.archive_prefix}"

    def keys(self, topic: str, start_us: int, end_us: int) -> list[tuple[ArchiveKey, str]]:
        """Archive objects of ``topic`` that may hold records of the range, with their ETags."""
        s = self.settings
        found = []
        for hour in archive_hours(start_us, end_us, s.archive_slack_s):
            prefix = hour_prefix(s.archive_prefix, topic, hour)
            try:
                found += self._archive.objects(prefix, topic)
            except (BotoCoreError, ClientError) as exc:
                raise BacktestError(f"cannot list s3://{self.bucket}/{prefix}: {exc}") from exc
        if len(found) > s.archive_max_objects:
            raise BacktestError(
                f"the range needs {len(found)} archive objects of {topic}, over "
                f"archive_max_objects={s.archive_max_objects}; ask for a shorter range"
            )
        return found

    def blob(self, key: ArchiveKey) -> bytes:
        """The bytes of one object."""
        self.objects_read += 1
        try:
            data = self._archive.read(key.key)
        except (BotoCoreError, ClientError) as exc:
            raise BacktestError(f"cannot read s3://{self.bucket}/{key.key}: {exc}") from exc
        return data

    def records(
        self,
        codec: TopicSerde[R],
        topic: str,
        cameras: Collection[str],
        *,
        start_us: int,
        end_us: int,
    ) -> list[R]:
        """The topic's records of ``cameras`` in the range (decoded ones from the cache)."""
        out: list[R] = []
        for key, etag in self.keys(topic, start_us, end_us):
            cached: dict[str, list[Any] | None] = {
                c: self.cache.get((key.key, etag, c)) for c in cameras
            }
            missing = [c for c, recs in cached.items() if recs is None]
            if missing:
                decoded = decode_by_camera(codec, topic, self.blob(key), missing)
                for camera, fresh in decoded.items():
                    self.cache.put((key.key, etag, camera), fresh)
                    cached[camera] = fresh
            for held in cached.values():
                out += [r for r in held or () if start_us <= r.frame_ts < end_us]
        return out


def _client(settings: BacktestSettings) -> Any:
    return s3_client(settings, retries=None)


def read_topic(
    settings: BacktestSettings, topic: str, handle: Callable[[Message], None], *, group: str
) -> None:
    """Feed ``handle`` every record of a (small, global) topic, from the first offset."""
    consumer = Consumer(consumer_config(settings, **{"group.id": f"{settings.group_id}-{group}"}))
    try:
        partitions = assign_from_beginning(consumer, [topic])
        read_to_end(
            consumer,
            end_offsets(settings.kafka_client_config(), partitions),
            handle,
            settle_s=max(0.3, 4 * settings.fetch_wait_max_ms / 1000),
            timeout_s=settings.bootstrap_timeout_s,
        )
    finally:
        consumer.close()


def read_feedback(
    settings: BacktestSettings, serde: Serde, cameras: Collection[str]
) -> list[Feedback]:
    """Every verdict on the feedback topic about ``cameras``, in topic order."""
    codec = serde.topic(catalog.FEEDBACK, Feedback)
    wanted = {c.encode() for c in cameras}
    out: list[Feedback] = []

    def handle(msg: Message) -> None:
        value = msg.value()
        if msg.key() not in wanted or not value:
            return
        try:
            out.append(codec.decode(value, partition=msg.partition(), offset=msg.offset()))
        except SerializationError as exc:
            log.warning("skipping an unreadable verdict: %s", exc)

    read_topic(settings, settings.topics.feedback, handle, group="backtest-feedback")
    return out
