"""Settings of the analytics assets and sensors, and the store clients they use.

``AnalyticsSettings`` extends the sinks' settings (the same ClickHouse database, MongoDB
database and archive prefix the sinks write: it reads the ``[sinks]`` table) with the analytics'
own knobs, in the ``[etl]`` table or as ``VIDSIGHT_ETL_<FIELD>``. The clients are built here so
the asset bodies stay a few lines.
"""

from typing import Any, ClassVar

from clickhouse_connect.driver.client import Client
from pydantic import Field

from schemas.records import Severity
from sinks.settings import SinkSettings
from vidsight.s3 import s3_client
from vidsight.settings import load


class AnalyticsSettings(SinkSettings):
    """What the hourly/daily analytics read and how they judge it."""

    section: ClassVar[str] = "etl"

    etl_grace_s: float = Field(
        300.0, ge=0, description="an hour is closed once a sink's watermark passed its end by this"
    )
    anomaly_threshold: float = Field(
        3.5, gt=0, description="robust z-score beyond which an hour's count is an anomaly"
    )
    anomaly_min_weeks: int = Field(
        3, ge=1, le=4, description="weeks of history (of the last 4) an anomaly needs"
    )
    anomaly_severity: Severity = Field(
        Severity.MEDIUM, description="severity of the count_anomaly alerts"
    )
    health_gap_s: float = Field(
        5.0, gt=0, description="a silence between frames longer than this is a gap"
    )


def analytics_settings(data_dir: str = "") -> AnalyticsSettings:
    return load(AnalyticsSettings, data_dir=data_dir or None)


def clickhouse(settings: AnalyticsSettings) -> Client:
    """A ClickHouse client on the analytics' database (created with the tables if missing)."""
    from etl.analytics import sql
    from sinks.clickhouse import migrate
    from sinks.clickhouse.sink import client_for

    client = client_for(settings)
    migrate.ensure_schema(client, settings.clickhouse_database)
    for statement in sql.create_all(settings.clickhouse_database):
        client.command(statement)
    return client


def s3(settings: AnalyticsSettings) -> Any:
    return s3_client(settings, timeout_s=settings.store_timeout_s, path_style=True)
