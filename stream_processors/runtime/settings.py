"""Settings of the detections-path worker (``vidsight process run``).

The worker's own fields are set in the ``[processor]`` table of the TOML settings file or as
``VIDSIGHT_PROCESSOR_<FIELD>`` (nested: ``VIDSIGHT_PROCESSOR_TOPICS__ALERTS``); it uses no
store, only the shared endpoints (top level / ``VIDSIGHT_<FIELD>``). Build them in ``main()``
with ``vidsight.settings.load(ProcessorSettings, ...)``. The defaults suit the local stack's
broker (DESIGN.md "Local embedded stack"): short fetch waits because it never ends a fetch
early, a short session because JoinGroup waits about half of it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas import catalog
from stream_processors.errors import OptionsError
from stream_processors.rules import EngineOptions
from stream_processors.rules.liveness import LivenessOptions
from vidsight.settings import Endpoints, MetricsSettings

_TOPIC = r"^[A-Za-z0-9._-]{1,249}$"


class ProcessorTopics(BaseModel):
    """Where the worker reads and writes; the catalog names unless overridden (shadow runs,
    tests and benchmarks point a worker at topics of their own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detections: str = Field(catalog.DETECTIONS, pattern=_TOPIC, description="Detections input")
    frames: str = Field(
        catalog.FRAMES, pattern=_TOPIC, description="FrameRef input (event-time heartbeat)"
    )
    sensors: str = Field(
        catalog.CONFIG_SENSORS, pattern=_TOPIC, description="SensorConfig input, read whole"
    )
    feedback: str = Field(catalog.FEEDBACK, pattern=_TOPIC, description="Feedback, read whole")
    health: str = Field(
        catalog.HEALTH,
        pattern=_TOPIC,
        description="Heartbeat input (video_loss and node_offline alerts), co-partitioned",
    )
    sensor_events: str = Field(
        catalog.SENSOR_EVENTS, pattern=_TOPIC, description="SensorEvent output"
    )
    alerts: str = Field(catalog.ALERTS, pattern=_TOPIC, description="Alert output")
    dlq: str = Field(catalog.DLQ, pattern=_TOPIC, description="dead letters")
    changelog: str = Field(
        catalog.PROCESSOR_CHANGELOG,
        pattern=_TOPIC,
        description="per-camera rules state (compacted, as many partitions as the inputs)",
    )


class ProcessorSettings(Endpoints, MetricsSettings):
    """How the detections-path worker consumes, batches, checkpoints and reports."""

    section: ClassVar[str] = "processor"

    group_id: str = Field(
        "vidsight-processor",
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="consumer group of the detections + frames inputs",
    )
    topics: ProcessorTopics = Field(
        default_factory=ProcessorTopics, description="input, output and state topics"
    )
    batch_max_messages: int = Field(
        1000, ge=1, le=100_000, description="messages taken from the client per consume() call"
    )
    poll_timeout_s: float = Field(
        0.01,
        gt=0,
        le=5.0,
        description="how long consume() waits to fill a batch; it returns early only when the "
        "batch is full, so this bounds the latency a quiet stream adds",
    )
    fetch_wait_max_ms: int = Field(
        10,
        ge=1,
        le=10_000,
        description="how long the broker may hold a fetch; the local broker always holds it "
        "this long when no data is waiting, so end-to-end latency follows it",
    )
    global_fetch_wait_max_ms: int = Field(
        500,
        ge=1,
        le=10_000,
        description="fetch wait of the sensors and feedback reader: those topics are quiet, and "
        "every fetch of the local broker costs CPU, so it asks less often (a sensor change or "
        "a verdict takes effect up to this much later)",
    )
    linger_ms: float = Field(
        5.0, ge=0, le=1000, description="how long the producer waits to fill an output batch"
    )
    idempotent_producer: bool = Field(
        False,
        description="idempotent producer (no duplicates on retries); True on a real Kafka "
        "cluster. Off by default: the local broker fails concurrent idempotent producers "
        "(OutOfOrderSequenceNumber, fatal); without it a retry may repeat an identical record",
    )
    session_timeout_ms: int = Field(
        6000,
        ge=1000,
        le=300_000,
        description="consumer group session timeout; keep it short locally (the local broker's "
        "JoinGroup waits about half of it on every rebalance)",
    )
    commit_interval_s: float = Field(
        1.0,
        ge=0,
        le=300.0,
        description="seconds between checkpoints (outputs acknowledged, then state to the "
        "changelog, then input offsets committed); 0 checkpoints after every batch. A crash "
        "repeats at most this much work, re-emitting identical outputs",
    )
    frame_max_hold_s: float = Field(
        10.0,
        gt=0,
        le=600.0,
        description="a frame with objects waits for its detections (so every run interleaves "
        "the two topics the same way); after this long it is applied without them",
    )
    frame_max_held: int = Field(
        10_000, ge=1, description="most frames waiting per camera (the oldest applied beyond)"
    )
    bootstrap_timeout_s: float = Field(
        60.0,
        gt=0,
        description="longest the start-up read of the sensors and feedback topics may take",
    )
    restore_timeout_s: float = Field(
        120.0, gt=0, description="longest restoring the state of newly assigned partitions may take"
    )
    feedback_buffer: int = Field(
        256,
        ge=1,
        description="recent verdicts kept per camera this worker does not own, re-applied when "
        "the camera's partition comes to this worker",
    )
    registry_retry_max_s: float = Field(
        10.0, gt=0, description="longest back-off between retries while the registry is down"
    )
    video_loss_s: float = Field(
        10.0,
        gt=0,
        le=86_400,
        description="a camera whose heartbeats show no new frame this long raises a video_loss "
        "alert (a camera's video_loss sensor overrides it: its seconds, severity, or disabled)",
    )
    node_offline_s: float = Field(
        30.0,
        gt=0,
        le=86_400,
        description="an edge node with no heartbeat this long raises a node_offline alert "
        "(keep it a few heartbeat intervals)",
    )
    engine: dict[str, float | int | None] = Field(
        default_factory=dict,
        description="rules tuning, by EngineOptions field (stream_processors/rules/options.py): "
        "hysteresis, track_ttl_s, frame_lag_s, median_threshold, fp_iou, ...",
    )
    consumer_config: dict[str, str] = Field(
        default_factory=dict, description="extra librdkafka consumer settings passed through"
    )
    producer_config: dict[str, str] = Field(
        default_factory=dict, description="extra librdkafka producer settings passed through"
    )

    @field_validator("engine")
    @classmethod
    def _check_engine(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            EngineOptions(**value)
        except TypeError as exc:
            known = ", ".join(EngineOptions.__dataclass_fields__)
            raise ValueError(f"unknown rules option ({exc}); known: {known}") from None
        except OptionsError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _check_topics(self) -> ProcessorSettings:
        t = self.topics
        inputs = {t.detections, t.frames, t.sensors, t.feedback, t.health}
        outputs = {t.sensor_events, t.alerts, t.dlq, t.changelog}
        if len(inputs) != 5 or len(outputs) != 4 or inputs & outputs:
            raise ValueError(f"topics must be nine different topics, got {t.model_dump()}")
        return self

    def liveness_options(self) -> LivenessOptions:
        """The default timeouts of the video-loss and node-offline alerts."""
        return LivenessOptions(video_loss_s=self.video_loss_s, node_offline_s=self.node_offline_s)

    def engine_options(self) -> EngineOptions:
        """The rules tuning of this worker."""
        return EngineOptions(**self.engine)  # type: ignore[arg-type]
