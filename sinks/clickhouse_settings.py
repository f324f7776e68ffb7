"""The ClickHouse connection, shared by every process that uses the store (top-level keys
``clickhouse_*``, env ``VIDSIGHT_CLICKHOUSE_*``): the sinks, the ETL, the console and the local
stack (which generates the passwords into ``DATA_DIR/secrets``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from vidsight.settings import SharedSettings, check_http_url


class ClickHouseConnection(SharedSettings):
    """Where the ClickHouse HTTP endpoint is and the users every client and the ETL name."""

    clickhouse_url: str = Field("http://127.0.0.1:8123", description="ClickHouse HTTP URL")
    clickhouse_user: str = Field(
        "vidsight", min_length=1, max_length=64, description="ClickHouse user every client names"
    )
    clickhouse_password: SecretStr = Field(
        SecretStr(""),
        description="ClickHouse password (the local stack generates one at the first `up`)",
    )
    clickhouse_etl_user: str = Field(
        "vidsight_etl",
        min_length=1,
        max_length=64,
        description="ClickHouse user of the ETL: the clients' rights plus defining the read-only "
        "tables over the Parquet lake",
    )
    clickhouse_etl_password: SecretStr = Field(
        SecretStr(""),
        description="password of clickhouse_etl_user (the local stack generates one at the "
        "first `up`)",
    )

    @field_validator("clickhouse_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_http_url(value)
