"""Settings of a backtest (``vidsight sensors backtest``, the console's "what would this have
done"): the processor's settings (topics, rules tuning, broker, registry, S3) plus where the
archive lives. Build them with ``vidsight.settings.load(BacktestSettings, ...)``."""

from __future__ import annotations

from pydantic import Field

from stream_processors.runtime.settings import ProcessorSettings


class BacktestSettings(ProcessorSettings):
    """How a backtest finds the recorded events; the rules tuning is the processor's
    (``engine``), so a backtest evaluates sensors exactly as the running worker does."""

    archive_prefix: str = Field(
        "archive",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="S3 key prefix of the topic archive (the S3 sink's archive_prefix)",
    )
    archive_slack_s: float = Field(
        3600.0,
        ge=0,
        le=7 * 86400,
        description="archive objects are named by the hour of the Kafka record timestamp, "
        "which trails the event time (edge spool, replays); hours up to this much after the "
        "range's end are read too, and records outside the range dropped",
    )
    archive_cache_records: int = Field(
        500_000,
        ge=0,
        description="decoded archive records a long-lived reader keeps between backtests "
        "(the console's); 0 keeps nothing",
    )
    archive_max_objects: int = Field(
        100_000,
        ge=1,
        description="most archive objects one backtest reads (a bound on what a request from "
        "the console can cost)",
    )
