"""Lake assets: the archive's hourly manifest and its daily compaction into Parquet.

``archive_manifest`` (hourly) records what the S3 Avro archive holds per topic partition and
hour in ClickHouse ``archive_manifest``; its blocking check ``archive_complete`` (checks.py)
compares that with the archive sink's committed offsets. ``lake_parquet`` (daily) compacts a
day's archive into ``lake/<topic>/dt=<day>/<n>.parquet`` and (re)defines the ClickHouse tables
analysts query the cold tier through.
"""

from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from dagster_project.domain import Domain
from dagster_project.lake_io import (
    ARCHIVED_TOPICS,
    Stores,
    recorded_manifest,
    settings,
    write_manifest,
)
from dagster_project.partitions import DAILY, HOURLY
from dagster_project.resources import PlatformResource
from etl.errors import EtlError
from etl.lake.archive import day_prefix, keep_recorded, manifest_rows, shortfalls
from etl.lake.parquet import Message, file_key, to_parquet, to_table
from schemas import catalog

LAKE_FILE_ROWS = 1_000_000
"""Rows per Parquet file: a day larger than this is split into 0.parquet, 1.parquet, ..."""

LAKE_TABLES = {catalog.DETECTIONS: "lake_detections", catalog.SENSOR_EVENTS: "lake_sensor_events",
               catalog.ALERTS: "lake_alerts", catalog.FRAMES: "lake_frames"}  # fmt: skip
"""ClickHouse tables over the lake (S3 engine, Parquet), by topic."""


def hour_of(context: AssetExecutionContext) -> datetime:
    start: datetime = context.partition_time_window.start
    return start.astimezone(UTC)


@asset(
    key="archive_manifest",
    group_name="lake",
    partitions_def=HOURLY,
    deps=[AssetKey(["s3", "archive"])],
    automation_condition=AutomationCondition.on_cron("15 * * * *"),
    description="Records per topic partition in the S3 Avro archive for one hour "
    "(ClickHouse archive_manifest), next to the archive sink's committed offsets.",
)
def archive_manifest(
    context: AssetExecutionContext, platform: PlatformResource
) -> MaterializeResult:  # type: ignore[type-arg]
    hour = hour_of(context)
    stores = Stores(settings(platform.data_dir))
    try:
        rows, shrunk = keep_recorded(recorded_manifest(stores, hour), stores.live_manifest([hour]))
        committed, _ids = stores.committed()
        write_manifest(stores, hour, rows, committed)
    finally:
        stores.close()
    lost = [s.describe() for s in shrunk]
    for line in lost:
        context.log.warning(f"archive shrank, keeping the recorded count: {line}")
    table = "\n".join(
        f"| {r.topic} | {r.partition} | {r.records} | {r.first_offset}..{r.last_offset} |"
        for r in rows
    )
    return MaterializeResult(
        metadata={
            "records": MetadataValue.int(sum(r.records for r in rows)),
            "objects": MetadataValue.int(sum(r.objects for r in rows)),
            "shrunk_partitions": MetadataValue.int(len(shrunk)),
            "shrunk": MetadataValue.md("\n".join(f"- {line}" for line in lost) or "none"),
            "partitions": MetadataValue.md(
                "| topic | partition | records | offsets |\n|---|---|---|---|\n" + table
            ),
        }
    )


@asset(
    key="lake_parquet",
    group_name="lake",
    partitions_def=DAILY,
    deps=["archive_manifest"],
    description="One UTC day of the Avro archive compacted into typed, zstd Parquet at "
    "lake/<topic>/dt=<day>/<n>.parquet (sorted by camera and time), plus the ClickHouse "
    "tables over it.",
)
def lake_parquet(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    day = hour_of(context)
    s = settings(platform.data_dir)
    stores = Stores(s)
    counts: dict[str, int] = {}
    try:
        for topic in ARCHIVED_TOPICS:
            counts[topic] = compact_day(stores, topic, day)
        tables, table_notes = define_lake_tables(stores)
    finally:
        stores.close()
    for note in table_notes:
        context.log.warning(note)
    return MaterializeResult(
        metadata={
            "rows": MetadataValue.int(sum(counts.values())),
            "rows_by_topic": MetadataValue.json(counts),
            "lake_tables": MetadataValue.text(", ".join(tables) or "none"),
            "lake_table_notes": MetadataValue.text("; ".join(table_notes) or "none"),
        }
    )


def compact_day(stores: Stores, topic: str, day: datetime) -> int:
    """Write one topic's day as Parquet (replacing the day's files); returns its rows.

    Refuses a day whose archive has a hole: the lake must hold what the archive holds.
    """
    s = stores.settings
    keys = stores.archive_keys(topic, day_prefix(s.archive_prefix, topic, day))
    per_key = [(k, stores.read_messages(k)) for k in keys]
    holes = shortfalls(manifest_rows((k, [m.offset for m in ms]) for k, ms in per_key), {})
    if holes:
        raise EtlError(
            f"the archive of {topic} on {day:%Y-%m-%d} is short, not compacting it: "
            + "; ".join(h.describe() for h in holes)
        )
    messages: list[Message] = [m for _, ms in per_key for m in ms]
    spec = catalog.topic(topic)
    schema = None if spec.value_schema is None else catalog.schema_dict(spec.value_schema)
    from schemas.serde import Serde

    codec = (
        None
        if spec.value_schema is None
        else Serde.for_registry(s, auto_register=False).topic(topic)
    )

    def decode(m: Message) -> dict[str, Any] | None:
        if m.value is None or codec is None:
            return None
        return codec.decode_datum(m.value, partition=m.partition, offset=m.offset)

    table = to_table(messages, schema, decode)
    prefix = f"{s.lake_prefix}/{topic}/dt={day:%Y-%m-%d}/"
    old = {k for k, _ in stores.list_keys(prefix)}
    written = set()
    for n, start in enumerate(range(0, table.num_rows, LAKE_FILE_ROWS)):
        key = file_key(s.lake_prefix, topic, f"{day:%Y-%m-%d}", n)
        part = table.slice(start, LAKE_FILE_ROWS)
        stores.s3.put_object(Bucket=s.s3_bucket, Key=key, Body=to_parquet(part))
        written.add(key)
    for key in sorted(old - written):  # files of an earlier, larger run of the same day
        stores.s3.delete_object(Bucket=s.s3_bucket, Key=key)
    rows: int = table.num_rows
    return rows


def lake_table_ddl(stores: Stores, topic: str, table: str) -> str:
    """An S3-engine table over one topic's Parquet files.

    It names the endpoint's named collection ``lake`` (the lake's URL and S3 key pair, from the
    endpoint's config), so no secret is in the DDL; the glob keeps the table read-only.
    """
    s = stores.settings
    url = f"{s.s3_endpoint}/{s.s3_bucket}/{s.lake_prefix}/{topic}/dt=*/*.parquet"
    return (
        f"CREATE OR REPLACE TABLE {s.clickhouse_database}.{table} "
        f"ENGINE = S3(lake, url = {_quote(url)}, format = 'Parquet') "
        f"COMMENT {_quote(f'The cold tier of {topic} (Parquet in S3, written by lake_parquet)')}"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def define_lake_tables(stores: Stores) -> tuple[list[str], list[str]]:
    """(Re)define the tables over the lake as the ETL user: the tables defined, and a note for
    each one left out (no Parquet file yet to read its columns from, or refused)."""
    from clickhouse_connect.driver.exceptions import ClickHouseError

    s = stores.settings
    defined, notes = [], []
    for topic, table in LAKE_TABLES.items():
        if next(stores.list_keys(f"{s.lake_prefix}/{topic}/dt="), None) is None:
            notes.append(f"table {table} not defined: no Parquet file of {topic} in the lake yet")
            continue
        try:
            stores.etl_ch.command(lake_table_ddl(stores, topic, table))
        except ClickHouseError as exc:
            first = str(exc).strip().splitlines()[0][:300]
            notes.append(f"table {table} over the lake not defined: the server refused ({first})")
        else:
            defined.append(table)
    return defined, notes


DOMAIN = Domain(assets=[archive_manifest, lake_parquet])
