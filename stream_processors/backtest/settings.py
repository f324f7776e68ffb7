"""Settings of a backtest (``vidsight sensors backtest``, the console's "what would this have
done"): the processor's settings (topics, rules tuning, broker, registry) plus S3 and where the
archive lives. It reads the ``[processor]`` table (so it tunes the rules as the worker does),
then its own ``[backtest]`` table (``VIDSIGHT_BACKTEST_<FIELD>`` beats
``VIDSIGHT_PROCESSOR_<FIELD>``). Build them with ``vidsight.settings.load(BacktestSettings,
...)``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from stream_processors.runtime.settings import ProcessorSettings
from vidsight.s3 import S3Connection


class BacktestSettings(ProcessorSettings, S3Connection):
    """How a backtest finds the recorded events; the rules tuning is the processor's
    (``engine``), so a backtest evaluates sensors exactly as the running worker does."""

    section: ClassVar[str] = "backtest"

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
