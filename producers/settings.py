"""Settings of the edge process (``vidsight edge ...``): the endpoints plus the edge's own knobs.

The edge's own fields are set in the ``[edge]`` table of the TOML settings file or as
``VIDSIGHT_EDGE_<FIELD>``; the shared endpoints and the S3 connection (the only store the edge
writes) at the top level / ``VIDSIGHT_<FIELD>``. Build them in ``main()`` with
``vidsight.settings.load(EdgeSettings, ...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from producers.motion import GATE_DEFAULTS
from vidsight.s3 import S3Connection
from vidsight.settings import Endpoints, MetricsSettings


class EdgeSettings(Endpoints, MetricsSettings, S3Connection):
    """How one edge process spools, publishes, uploads and decodes."""

    section: ClassVar[str] = "edge"

    spool_dir: Path | None = Field(
        None, description="store-and-forward directory (default <data_dir>/edge-spool)"
    )
    spool_max_bytes: int = Field(
        1 << 30, ge=1 << 20, description="cap of the event spool; oldest segments evicted beyond"
    )
    evidence_spool_max_bytes: int = Field(
        4 << 30, ge=1 << 20, description="cap of the evidence spool; oldest evicted beyond"
    )
    spool_segment_bytes: int = Field(
        16 << 20, ge=4096, description="size at which a spool segment file is rolled"
    )
    spool_fsync: Literal["always", "interval", "never"] = Field(
        "interval", description="fsync policy of the spools (kill -9 is safe with any)"
    )
    spool_fsync_interval_s: float = Field(
        1.0, gt=0, description="seconds between fsyncs with spool_fsync=interval"
    )
    publish_max_in_flight: int = Field(
        50_000, ge=1, description="events handed to the Kafka client before acknowledgements"
    )
    publish_idempotence: bool = Field(
        False,
        description="idempotent producer (no duplicates on retries); True on a real Kafka "
        "cluster. Off by default: the local broker fails concurrent idempotent producers "
        "(OutOfOrderSequenceNumber); without it one request is in flight per connection",
    )
    producer_config: dict[str, str] = Field(
        default_factory=dict, description="extra librdkafka producer settings (linger.ms, ...)"
    )
    registry_auto_register: bool = Field(
        True, description="register the event schemas if missing (False: look up only)"
    )
    evidence: bool = Field(True, description="upload JPEG evidence of frames with objects")
    evidence_jpeg_quality: int = Field(85, ge=10, le=100, description="JPEG quality of evidence")
    evidence_min_interval_s: float = Field(
        0.0, ge=0, description="at most one evidence image per camera per this many seconds"
    )
    s3_timeout_s: float = Field(3.0, gt=0, description="connect/read timeout of S3 uploads")
    drain_timeout_s: float = Field(
        120.0, ge=0, description="how long a finished run waits to deliver what is spooled"
    )
    decoder_threads: int = Field(1, ge=0, le=64, description="decoder threads per camera")
    keyframe_only: bool = Field(
        True, description="decode only keyframes when they suffice for the analysis fps"
    )
    open_timeout_s: float = Field(10.0, gt=0, description="timeout opening a network source")
    read_timeout_s: float = Field(5.0, gt=0, description="no data this long drops the stream")
    stall_timeout_s: float = Field(
        15.0, gt=0, description="packets but no frame this long drops the stream"
    )
    reconnect_initial_s: float = Field(0.5, gt=0, description="first reconnect delay")
    reconnect_max_s: float = Field(30.0, gt=0, description="longest reconnect delay")
    reconnect_max_attempts: int = Field(
        0, ge=0, description="failed reconnects in a row before a camera gives up (0: never)"
    )
    motion_threshold: int = Field(20, ge=1, le=255, description="grey-level change that counts")
    motion_min_area: float = Field(
        0.0005, ge=0, le=1, description="changed fraction of the frame that opens the gate"
    )
    motion_work_width: int = Field(160, ge=16, le=1920, description="gate resolution, pixels")
    motion_noise_k: float = Field(
        GATE_DEFAULTS.noise_k, ge=0, le=20, description="a change counts beyond k noise deviations"
    )
    motion_warmup_s: float = Field(
        GATE_DEFAULTS.warmup_s, ge=0, le=600, description="seconds learned after start/reconnect"
    )
    motion_absorb_s: float = Field(
        GATE_DEFAULTS.absorb_s, gt=0, le=86_400, description="seconds before a ghost is absorbed"
    )
    motion_step_absorb_s: float = Field(
        GATE_DEFAULTS.step_absorb_s,
        gt=0,
        le=86_400,
        description="seconds before a region that appeared at once and stayed, on a young "
        "background, is absorbed (a local lighting change)",
    )
    motion_lighting_share: float = Field(
        GATE_DEFAULTS.lighting_share,
        gt=0,
        le=1,
        description="changed share of the frame taken as a lighting change (re-learned)",
    )

    node_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="this edge node's id: `edge run --node` runs the cameras assigned to it "
        "on the cameras topic",
    )
    site: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="this node's site: it also runs cameras assigned to the site",
    )
    site_nodes: list[str] = Field(
        default_factory=list,
        description="every node id of this node's site (this one included): the site's "
        "cameras are split among them by rendezvous hashing; empty: this node runs them all",
    )
    run_unassigned: bool = Field(
        False, description="also run cameras that name neither a node nor a site"
    )
    config_cache: Path | None = Field(
        None,
        description="last known camera configuration, used when the broker is unreachable "
        "at start (default <data_dir>/edge-<node_id>/cameras.json)",
    )
    config_timeout_s: float = Field(
        10.0, gt=0, le=600, description="how long the first read of the cameras topic may take"
    )
    heartbeat_interval_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="seconds between heartbeats of the node and each camera on vidsight.health "
        "(keep it well under the processor's video_loss_s and node_offline_s)",
    )
    config_retry_s: float = Field(
        5.0, gt=0, le=600, description="seconds between attempts to reach the cameras topic"
    )

    @property
    def spool_path(self) -> Path:
        """The spool directory actually used (a node's own under <data_dir>/edge-<node_id>)."""
        if self.spool_dir is not None:
            return self.spool_dir
        if self.node_id is not None:
            return self.data_dir / f"edge-{self.node_id}" / "spool"
        return self.data_dir / "edge-spool"

    @property
    def config_cache_path(self) -> Path:
        """Where the last known camera configuration is kept."""
        if self.config_cache is not None:
            return self.config_cache
        return self.data_dir / f"edge-{self.node_id or 'default'}" / "cameras.json"
