"""Settings of a sink process (``vidsight sink run``, ``replay``, ``sql``).

The sinks' own fields are set in the ``[sinks]`` table of the TOML settings file or as
``VIDSIGHT_SINKS_<FIELD>``; the shared endpoints and the four stores' connections (each owned
next to its store) at the top level / ``VIDSIGHT_<FIELD>``. Build them in ``main()`` with
``vidsight.settings.load(SinkSettings, ...)``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from sinks.clickhouse_settings import ClickHouseConnection
from sinks.mongo_settings import MongoConnection
from sinks.postgres_settings import PostgresConnection
from vidsight.s3 import S3Connection
from vidsight.settings import Endpoints, MetricsSettings


class SinkSettings(
    Endpoints,
    MetricsSettings,
    PostgresConnection,
    MongoConnection,
    ClickHouseConnection,
    S3Connection,
):
    """How the sinks consume, batch, retry and where they write."""

    section: ClassVar[str] = "sinks"

    group_prefix: str = Field(
        "vidsight-sink",
        min_length=1,
        description="consumer group id prefix; each store's group is <prefix>-<store>",
    )
    batch_max_records: int = Field(
        5000, ge=1, le=500_000, description="a partition's batch is written at this many records"
    )
    batch_max_bytes: int = Field(
        8 << 20, ge=1024, description="... or at this many bytes of message values"
    )
    batch_max_age_s: float = Field(
        1.0, gt=0, description="... or when its oldest record waited this long (quiet ones too)"
    )
    consume_max_messages: int = Field(
        2000, ge=1, description="messages taken from the client per consume() call"
    )
    session_timeout_ms: int = Field(
        6000,
        ge=1000,
        description="consumer session timeout; keep it short locally (JoinGroup waits ~half)",
    )
    fetch_wait_max_ms: int = Field(
        100, ge=1, description="how long the broker may hold a fetch (local latency follows it)"
    )
    consumer_config: dict[str, str] = Field(
        default_factory=dict, description="extra librdkafka consumer settings passed through"
    )
    backoff_initial_s: float = Field(0.5, gt=0, description="first retry delay of a store outage")
    backoff_max_s: float = Field(15.0, gt=0, description="longest retry delay of a store outage")
    store_timeout_s: float = Field(
        30.0, gt=0, description="connect/request timeout of the store clients"
    )
    clickhouse_database: str = Field(
        "vidsight", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="ClickHouse database"
    )
    mongo_database: str = Field(
        "vidsight", pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", description="MongoDB database"
    )
    archive_prefix: str = Field(
        "archive", pattern=r"^[A-Za-z0-9_.-]+$", description="S3 key prefix of the topic archive"
    )
    archive_block_offsets: int = Field(
        10_000,
        ge=10,
        description="offsets per archive object (part of the key scheme: never change it on a "
        "live archive)",
    )
    archive_codec: Literal["null", "deflate"] = Field(
        "deflate", description="Avro container codec of archive objects"
    )
