"""The stores the lake, retention and check assets read: clients built from the ETL settings.

Thin adapters only (listing, reading, querying); every decision is in ``etl.lake`` and
``etl.retention``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from etl.lake.archive import (
    ManifestRow,
    Shortfall,
    hour_window,
    lost_since_recorded,
    manifest_rows,
    shortfalls,
)
from etl.lake.parquet import Message
from etl.retention.policy import RetentionSettings
from schemas import catalog
from sinks.archive import ArchiveKey, ArchiveReader, hour_prefix
from sinks.s3archive import NOT_ARCHIVED
from vidsight.settings import load

ARCHIVED_TOPICS: tuple[str, ...] = tuple(
    spec.name for spec in catalog.CATALOG if spec.name not in NOT_ARCHIVED
)
ARCHIVE_SINK = "s3"
"""The archive sink's name: its consumer group is ``<group_prefix>-s3``."""


def settings(data_dir: str = "") -> RetentionSettings:
    """The ETL's settings (env ``VIDSIGHT_*``, the TOML file, the local stack's files)."""
    return load(RetentionSettings, data_dir=data_dir or None)


@dataclass
class Stores:
    """Clients of one asset run (closed by ``close``)."""

    settings: RetentionSettings

    @cached_property
    def s3(self) -> Any:
        from vidsight.s3 import s3_client

        return s3_client(self.settings, timeout_s=self.settings.store_timeout_s, path_style=True)

    @cached_property
    def archive(self) -> ArchiveReader:
        return ArchiveReader(self.s3, self.settings.s3_bucket, self.settings.archive_prefix)

    @cached_property
    def ch(self) -> Any:
        from sinks.clickhouse.sink import client_for

        return client_for(self.settings, database=self.settings.clickhouse_database)

    @cached_property
    def etl_ch(self) -> Any:
        """A client as the ETL's own ClickHouse user, the one that may define lake tables."""
        from sinks.clickhouse.sink import client_for

        s = self.settings
        etl = s.model_copy(
            update={
                "clickhouse_user": s.clickhouse_etl_user,
                "clickhouse_password": s.clickhouse_etl_password,
            }
        )
        return client_for(etl, database=s.clickhouse_database)

    def close(self) -> None:
        for name in ("ch", "etl_ch"):
            if name in self.__dict__:
                self.__dict__[name].close()

    # ---- S3 ------------------------------------------------------------------------------

    def list_keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under a prefix."""
        for obj in self.archive.listing(prefix):
            yield obj.key, obj.size

    def get(self, key: str) -> bytes:
        return self.archive.read(key)

    def archive_keys(self, topic: str, prefix: str) -> list[ArchiveKey]:
        """The archive objects of a topic under a key prefix (claims and strays left out)."""
        return [key for key, _ in self.archive.objects(prefix)]

    def read_messages(self, key: ArchiveKey) -> list[Message]:
        """The archived messages of one object."""
        return [
            Message(m.partition, m.offset, m.timestamp_ms, m.key, m.value)
            for m in self.archive.messages(key)
        ]

    def live_manifest(self, hours: Iterable[datetime]) -> list[ManifestRow]:
        """Manifest rows of hours as the archive holds them now."""
        objects: list[tuple[ArchiveKey, list[int]]] = []
        for hour in hours:
            for topic in ARCHIVED_TOPICS:
                prefix = hour_prefix(self.settings.archive_prefix, topic, hour)
                for k in self.archive_keys(topic, prefix):
                    objects.append((k, [m.offset for m in self.read_messages(k)]))
        return manifest_rows(objects)

    def rows_covering(
        self, holes: Iterable[Shortfall], known: set[tuple[datetime, str, int]]
    ) -> list[ManifestRow]:
        """Manifest rows, as the archive holds them now, of the objects of any hour not in
        ``known`` whose offsets overlap one of ``holes`` (a listing of the holes' topics)."""
        wanted = list(holes)
        objects: list[tuple[ArchiveKey, list[int]]] = []
        for topic in sorted({h.topic for h in wanted}):
            prefix = f"{self.settings.archive_prefix.rstrip('/')}/{topic}/"
            for k in self.archive_keys(topic, prefix):
                if (k.hour, k.topic, k.partition) in known:
                    continue
                if any(
                    h.partition == k.partition
                    and k.block_first <= h.last_missing
                    and h.first_missing <= k.block_last
                    for h in wanted
                    if h.topic == topic
                ):
                    objects.append((k, [m.offset for m in self.read_messages(k)]))
        return manifest_rows(objects)

    # ---- Kafka ---------------------------------------------------------------------------

    def committed(self) -> tuple[dict[tuple[str, int], int], dict[str, str]]:
        """The archive sink's committed offsets per (topic, partition), and each topic's id.

        Committed offsets, not end offsets: the local broker's high watermark is wrong when a
        batch holds several records (DESIGN.md), and what matters is what the sink consumed.
        """
        from confluent_kafka import ConsumerGroupTopicPartitions
        from confluent_kafka.admin import AdminClient

        from sinks.runner import group_id

        admin = AdminClient(self.settings.kafka_client_config())
        group = group_id(self.settings, ARCHIVE_SINK)
        futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        result = futures[group].result(timeout=self.settings.store_timeout_s)
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in result.topic_partitions or []
            if tp.offset >= 0 and tp.topic in ARCHIVED_TOPICS
        }
        from sinks.incarnation import describe

        ids = describe(
            self.settings.kafka_client_config(),
            ARCHIVED_TOPICS,
            timeout_s=self.settings.store_timeout_s,
        )
        return committed, ids

    # ---- ClickHouse ----------------------------------------------------------------------

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        return list(self.ch.query(sql, parameters=params or None).result_rows)

    def command(self, sql: str, **params: Any) -> None:
        self.ch.command(sql, parameters=params or None)


MANIFEST_DDL = """
CREATE TABLE IF NOT EXISTS {db}.archive_manifest
(
    hour DateTime('UTC'),
    topic LowCardinality(String),
    partition UInt16,
    topic_id LowCardinality(String),
    objects UInt32,
    records UInt64,
    first_offset UInt64,
    last_offset UInt64,
    committed_offset Int64 COMMENT 'the archive sink''s committed offset when recorded (-1: none)',
    recorded_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, topic, partition, topic_id)
COMMENT 'Records per topic partition and hour in the S3 Avro archive (Dagster archive_manifest).'
"""

_MANIFEST_COLUMNS = (
    "hour", "topic", "partition", "topic_id", "objects", "records", "first_offset",
    "last_offset", "committed_offset", "recorded_at",
)  # fmt: skip


def write_manifest(
    stores: Stores, hour: datetime, rows: list[ManifestRow], committed: dict[tuple[str, int], int]
) -> None:
    """Replace the hour's manifest rows (a rerun or backfill writes the same rows again)."""
    db = stores.settings.clickhouse_database
    stores.command(MANIFEST_DDL.format(db=db))
    stores.command(
        f"DELETE FROM {db}.archive_manifest WHERE hour = {{hour:DateTime('UTC')}}",
        hour=hour,
    )
    now = datetime.now(UTC)
    data = [
        (
            r.hour,
            r.topic,
            r.partition,
            r.topic_id,
            r.objects,
            r.records,
            r.first_offset,
            r.last_offset,
            committed.get((r.topic, r.partition), -1),
            now,
        )
        for r in rows
    ]
    if data:
        stores.ch.insert(f"{db}.archive_manifest", data, column_names=list(_MANIFEST_COLUMNS))


def recorded_manifest(stores: Stores, hour: datetime | None = None) -> list[ManifestRow]:
    """Manifest rows recorded so far, of every hour or of one (empty before the first run)."""
    db = stores.settings.clickhouse_database
    stores.command(MANIFEST_DDL.format(db=db))
    where = "" if hour is None else " WHERE hour = {hour:DateTime('UTC')}"
    params = {} if hour is None else {"hour": hour}
    rows = stores.query(
        f"SELECT hour, topic, partition, topic_id, objects, records, first_offset, last_offset "
        f"FROM {db}.archive_manifest{where}",
        **params,
    )
    return [
        ManifestRow(h.replace(tzinfo=UTC), t, p, tid, o, n, f, la)
        for h, t, p, tid, o, n, f, la in rows
    ]


def archive_shortfalls(stores: Stores, hour: datetime) -> list[Shortfall]:
    """What the archive lacks in one hour: records the manifest recorded there and lost, and
    holes in the offsets around it (the hour and its neighbours read live, other hours as
    recorded), including a tail the archive sink committed and the archive lacks."""
    recorded = recorded_manifest(stores)
    window = hour_window(hour, 1, 1)
    live = stores.live_manifest(window)
    lost = lost_since_recorded([r for r in recorded if r.hour == hour], live)
    rows = [r for r in recorded if r.hour not in window] + live
    committed, ids = stores.committed()
    if hour_window(hour, 0, 1)[-1] < datetime.now(UTC) - timedelta(hours=1):
        # The committed tail concerns the newest hours; for an older hour, the hours after
        # its window may simply not be recorded yet.
        committed = {}
    # A partition the sink consumed with nothing archived anywhere has no hour to name.
    holes = [s for s in shortfalls(rows, committed, ids) if not s.hours or hour in s.hours]
    # The missing offsets may sit in an hour that is neither read live nor recorded yet: records
    # stamped out of order across hours (a backfill, a producer setting timestamps) interleave
    # hours within one partition. Read what the archive holds of those offsets, any hour,
    # before calling them missing.
    known = {(r.hour, r.topic, r.partition) for r in rows}
    elsewhere = stores.rows_covering([s for s in holes if s.hours], known)
    if elsewhere:
        rows += elsewhere
        holes = [s for s in shortfalls(rows, committed, ids) if not s.hours or hour in s.hours]
    return lost + holes
