"""The read-model faust app, built by ``create_app`` (nothing is created at import).

Three agents (``agents.py``) read the lower-rate topics, decode them with the project's serde
and fold the pure functions of this package into four tables, each keyed by camera id and
served as JSON (``pages.py``):

================  =======================  ====================================================
table             source                   HTTP
================  =======================  ====================================================
``occupancy``     vidsight.sensor-events   ``GET /state/occupancy/{camera_id}``
``crossings``     vidsight.sensor-events   ``GET /state/crossings/{camera_id}[/{sensor_id}]``
                                           ``[?day=YYYY-MM-DD]`` (default: today, UTC)
``open_alerts``   vidsight.alerts          ``GET /state/alerts/open/{camera_id}``
``fp_verdicts``   vidsight.feedback        ``GET /state/feedback/{camera_id}``
================  =======================  ====================================================

Any worker answers for every camera: a page forwards to the worker holding the camera's
partition (``@app.table_route``). ``GET /metrics`` serves the worker's Prometheus metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import catalog
from schemas.serde import Serde
from stream_processors.readmodels.agents import add_agents
from stream_processors.readmodels.crossings import CameraCrossings
from stream_processors.readmodels.errors import ReadModelError
from stream_processors.readmodels.faust_app import ReadModelApp
from stream_processors.readmodels.kafka_auth import broker_credentials
from stream_processors.readmodels.metrics import ReadModelMetrics
from stream_processors.readmodels.occupancy import CameraOccupancy
from stream_processors.readmodels.open_alerts import CameraAlerts
from stream_processors.readmodels.pages import add_pages
from stream_processors.readmodels.settings import ReadModelSettings
from stream_processors.readmodels.tables import StateTable
from stream_processors.readmodels.verdicts import CameraVerdicts

SOURCE_TOPICS = (catalog.SENSOR_EVENTS, catalog.ALERTS, catalog.FEEDBACK)


def source_partitions() -> int:
    """The partition count the tables share with their source topics (one for all)."""
    counts = {catalog.topic(name).partitions for name in SOURCE_TOPICS}
    if len(counts) != 1:
        raise ReadModelError(
            f"the source topics {', '.join(SOURCE_TOPICS)} must have one partition count for "
            f"their tables to be co-partitioned; the catalog has {sorted(counts)}"
        )
    return counts.pop()


@dataclass(frozen=True, slots=True)
class ReadModels:
    """The built app and what tests and the runner reach into."""

    app: ReadModelApp
    occupancy: StateTable[CameraOccupancy]
    crossings: StateTable[CameraCrossings]
    open_alerts: StateTable[CameraAlerts]
    fp_verdicts: StateTable[CameraVerdicts]
    metrics: ReadModelMetrics

    @property
    def tables(self) -> tuple[StateTable[Any], StateTable[Any], StateTable[Any], StateTable[Any]]:
        """Every table, in a fixed order."""
        return (self.occupancy, self.crossings, self.open_alerts, self.fp_verdicts)


def worker_dir(settings: ReadModelSettings) -> Path:
    """This worker's faust data directory (one per worker: several may share a machine)."""
    return settings.data_dir / "readmodels" / f"{settings.app_id}-{settings.web_port}"


def faust_options(settings: ReadModelSettings, partitions: int) -> dict[str, Any]:
    """The faust settings of the app: the broker tuning of DESIGN.md and the web server."""
    return {
        "broker": [f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        # The SASL/TLS settings every confluent-kafka client of the deployment gets, in faust's
        # terms: the read models must not be the one client that connects without them.
        "broker_credentials": broker_credentials(settings.kafka_config),
        # Only our settings: faust would otherwise read BROKER_*, WEB_PORT... from os.environ.
        "env": {},
        "autodiscover": False,
        "store": "memory://",
        "datadir": str(worker_dir(settings)),
        "topic_partitions": partitions,
        "topic_replication_factor": settings.replication_factor,
        "topic_disable_leader": True,
        "table_standby_replicas": settings.standby_replicas,
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": settings.heartbeat_interval_s,
        # One record per produce batch: the local broker's high watermark is wrong for larger
        # batches, and changelog recovery reads each partition up to it.
        "producer_max_batch_size": settings.producer_max_batch_bytes,
        "producer_linger": settings.producer_linger_s,
        # The local broker shows aborted transactions, so exactly-once is not on offer there.
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": settings.auto_offset_reset,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "web_enabled": True,
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "canonical_url": settings.web_url,
    }


def create_app(settings: ReadModelSettings, *, serde: Serde | None = None) -> ReadModels:
    """Build the read-model app: tables, agents and HTTP pages (no broker contact)."""
    partitions = source_partitions()
    app = ReadModelApp(
        settings.app_id,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        **faust_options(settings, partitions),
    )
    serde = serde if serde is not None else Serde.for_registry(settings)

    def table(name: str, help_text: str) -> Any:
        # bytes keys: the changelog key is then the camera id's UTF-8, the source key itself
        return app.Table(
            name, key_type=bytes, value_type=bytes, partitions=partitions, help=help_text
        )

    models = ReadModels(
        app=app,
        occupancy=StateTable(table("occupancy", "occupancy per zone"), CameraOccupancy),
        crossings=StateTable(
            table("crossings", "tripwire crossings per day and hour"), CameraCrossings
        ),
        open_alerts=StateTable(table("open_alerts", "open alerts per camera"), CameraAlerts),
        fp_verdicts=StateTable(
            table("fp_verdicts", "false-positive verdicts per camera/sensor"), CameraVerdicts
        ),
        metrics=ReadModelMetrics(),
    )
    add_agents(app, models.tables, settings, serde, models.metrics)
    add_pages(
        app,
        occupancy=models.occupancy,
        crossings=models.crossings,
        open_alerts=models.open_alerts,
        fp_verdicts=models.fp_verdicts,
        metrics=models.metrics,
    )
    return models
