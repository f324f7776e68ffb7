"""The PostgreSQL connection, shared by every process that uses the store (top-level key
``postgres_dsn``, env ``VIDSIGHT_POSTGRES_DSN``): the sinks, the ETL, the console and the
feedback commands."""

from __future__ import annotations

from pydantic import Field, SecretStr

from vidsight.settings import SharedSettings


class PostgresConnection(SharedSettings):
    """Where the PostgreSQL database of the projections is."""

    postgres_dsn: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/vidsight"),
        description="PostgreSQL connection string (libpq URI)",
    )
