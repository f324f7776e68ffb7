"""Settings of a read-model worker (``vidsight readmodels run``).

The worker's own fields are set in the ``[readmodels]`` table of the TOML settings file or as
``VIDSIGHT_READMODELS_<FIELD>``; the shared endpoints at the top level. Build them in
``main()`` with ``vidsight.settings.load(ReadModelSettings, ...)``. The defaults suit the
local stack's broker (see DESIGN.md "Local embedded stack"); on a real Kafka cluster raise
``producer_max_batch_bytes`` and ``fetch_max_wait_ms``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vidsight.settings import Endpoints


class ReadModelSettings(Endpoints):
    """How a read-model worker consumes, where it keeps state and where it serves HTTP."""

    section: ClassVar[str] = "readmodels"

    app_id: str = Field(
        "vidsight-readmodels",
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="faust app id: the consumer group and the prefix of the changelog topics",
    )
    web_host: str = Field(
        "127.0.0.1", description="address the HTTP server binds and the host other workers call"
    )
    web_port: int = Field(6066, ge=1, le=65535, description="port of the HTTP server (/state/...)")
    canonical_url: str | None = Field(
        None,
        description="URL other workers route requests to (default http://<web_host>:<web_port>)",
    )
    fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        le=10_000,
        description="how long the broker may hold a fetch; the local broker always holds it this "
        "long when no data is waiting, so end-to-end latency follows it (faust hardcodes 1500)",
    )
    session_timeout_s: float = Field(
        6.0,
        ge=1.0,
        le=300.0,
        description="consumer group session timeout; keep it short locally (the local broker's "
        "JoinGroup waits about half of it, on every rebalance)",
    )
    heartbeat_interval_s: float = Field(
        1.0, gt=0, le=60.0, description="consumer heartbeat interval (below a third of the session)"
    )
    producer_max_batch_bytes: int = Field(
        1,
        ge=1,
        description="bytes per producer record batch; 1 makes every batch one record, which the "
        "local broker needs to report correct end offsets (changelog recovery reads up to them); "
        "16384 on a real Kafka cluster",
    )
    producer_linger_s: float = Field(
        0.0, ge=0, le=10.0, description="how long the producer waits to fill a batch"
    )
    standby_replicas: int = Field(
        0,
        ge=0,
        le=8,
        description="standby copies of each table partition on other workers (faster failover, "
        "more changelog reading); 1 on a real cluster",
    )
    replication_factor: int = Field(
        1, ge=1, le=32, description="replication factor of the changelog topics this app creates"
    )
    batch_max_records: int = Field(
        500,
        ge=1,
        le=100_000,
        description="records an agent takes at once; each camera's value is written to the "
        "changelog once per batch, however many of its records the batch holds",
    )
    batch_within_ms: int = Field(
        10,
        ge=1,
        le=10_000,
        description="how long an agent waits to fill a batch (adds up to this much latency)",
    )
    crossings_keep_days: int = Field(
        2,
        ge=1,
        le=366,
        description="event-time days of hourly tripwire counts kept per camera (the newest day "
        "seen and the ones before it)",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest",
        description="where a new app id starts reading the source topics: earliest rebuilds the "
        "tables from everything the topics hold; latest starts from now (tests, demos)",
    )
    create_topics: bool = Field(
        True,
        description="create the changelog topics (with the source topics' partition count) "
        "before starting, instead of leaving it to faust",
    )
    log_level: str = Field(
        "info",
        pattern=r"^(?i:debug|info|warning|error|critical)$",
        description="log level of the worker",
    )

    @model_validator(mode="after")
    def _check_timeouts(self) -> ReadModelSettings:
        if self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError(
                f"heartbeat_interval_s={self.heartbeat_interval_s} must be at most a third of "
                f"session_timeout_s={self.session_timeout_s}"
            )
        return self

    @property
    def web_url(self) -> str:
        """The URL this worker is reached at by other workers and clients."""
        return (self.canonical_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")
