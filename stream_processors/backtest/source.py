"""Where a backtest's inputs come from: the S3 archive of the frames and detections topics,
the feedback topic and the sensors topic (never the stores' projections).

Archive objects (sinks/s3archive.py) hold the raw Kafka messages, named by the UTC hour of
the Kafka record timestamp. A record is stamped when it is produced, which is at or after
its event time, so the hours from the range's start to its end plus ``archive_slack_s`` are
listed; records are then kept by key (the camera) and by event time within the range.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from confluent_kafka import Consumer, Message

from etl.lake.archive import ArchiveKey, hour_prefix, parse_key
from schemas import catalog
from schemas.errors import SerializationError
from schemas.records import Detections, Feedback, FrameRef
from schemas.serde import Serde, TopicSerde
from sinks.s3archive import decode as decode_archive
from stream_processors.backtest.settings import BacktestSettings
from stream_processors.errors import BacktestError
from stream_processors.runtime.kafka import (
    assign_from_beginning,
    consumer_config,
    end_offsets,
    read_to_end,
)

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
    keys = {c.encode() for c in cameras}
    decode = codec.decode
    out: list[R] = []
    for blob in blobs:
        for m in decode_archive(topic, blob):
            if m.key not in keys or m.value is None:
                continue
            try:
                rec = decode(m.value, partition=m.partition, offset=m.offset)
            except SerializationError as exc:
                log.warning("skipping an unreadable archived record: %s", exc)
                continue
            if start_us <= rec.frame_ts < end_us:
                out.append(rec)
    return out


class ArchiveReader:
    """Reads archive objects of a topic for a time range from S3."""

    def __init__(self, settings: BacktestSettings, client: Any | None = None) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self._s3 = client if client is not None else _client(settings)
        self.objects_read = 0

    @property
    def location(self) -> str:
        """The archive's address, for reports."""
        return f"s3://{self.bucket}/{self.settings.archive_prefix}"

    def keys(self, topic: str, start_us: int, end_us: int) -> list[ArchiveKey]:
        """Archive objects of ``topic`` that may hold records of the range."""
        s = self.settings
        found = []
        for hour in archive_hours(start_us, end_us, s.archive_slack_s):
            prefix = hour_prefix(s.archive_prefix, topic, hour)
            for key in self._list(prefix):
                parsed = parse_key(s.archive_prefix, key)
                if parsed is not None and parsed.topic == topic:
                    found.append(parsed)
        return found

    def blobs(self, keys: Iterable[ArchiveKey]) -> Iterator[bytes]:
        """The bytes of each object."""
        for k in keys:
            self.objects_read += 1
            if self.objects_read > self.settings.archive_max_objects:
                raise BacktestError(
                    f"the range needs more than {self.settings.archive_max_objects} archive "
                    "objects (archive_max_objects); ask for a shorter range or one camera"
                )
            try:
                body = self._s3.get_object(Bucket=self.bucket, Key=k.key)["Body"]
                yield body.read()
            except (BotoCoreError, ClientError) as exc:
                raise BacktestError(f"cannot read s3://{self.bucket}/{k.key}: {exc}") from exc

    def records(
        self,
        codec: TopicSerde[R],
        topic: str,
        cameras: Collection[str],
        *,
        start_us: int,
        end_us: int,
    ) -> list[R]:
        """The topic's records of ``cameras`` in the range."""
        keys = self.keys(topic, start_us, end_us)
        return decode_objects(
            codec, topic, self.blobs(keys), cameras, start_us=start_us, end_us=end_us
        )

    def _list(self, prefix: str) -> Iterator[str]:
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield obj["Key"]
        except (BotoCoreError, ClientError) as exc:
            raise BacktestError(f"cannot list s3://{self.bucket}/{prefix}: {exc}") from exc


def _client(settings: BacktestSettings) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key.get_secret_value(),
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


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
