"""Start a read-model worker: check the source topics, create the changelogs, run faust.

The changelog topics are created here, explicitly, with the source topics' partition count:
a topic the local broker auto-creates gets 4 partitions, and a table whose changelog is not
co-partitioned with its source cannot be recovered or routed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import MappingProxyType

from confluent_kafka import KafkaException

from schemas.catalog import TopicSpec
from schemas.topics import create_topics, list_topics
from stream_processors.readmodels.app import SOURCE_TOPICS, ReadModels, create_app, worker_dir
from stream_processors.readmodels.errors import ReadModelError
from stream_processors.readmodels.settings import ReadModelSettings

log = logging.getLogger(__name__)

_CHANGELOG_CONFIG = MappingProxyType({"cleanup.policy": "compact"})


def changelog_specs(models: ReadModels) -> list[TopicSpec]:
    """The changelog topic of every table, named and sized as faust expects."""
    return [
        TopicSpec(
            name=t.table.changelog_topic.get_topic_name(),
            value_schema=None,
            partitions=int(t.table.partitions),
            config=_CHANGELOG_CONFIG,
            compacted=True,
            doc=f"changelog of the read-model table {t.name}",
        )
        for t in models.tables
    ]


def check_sources(existing: dict[str, int], partitions: int, names: Iterable[str]) -> None:
    """ReadModelError unless every source topic exists with ``partitions`` partitions."""
    for name in names:
        count = existing.get(name)
        if count is None:
            raise ReadModelError(
                f"source topic {name} does not exist; create the catalog topics first "
                "(vidsight topics create)"
            )
        if count != partitions:
            raise ReadModelError(
                f"source topic {name} has {count} partitions but the tables are built for "
                f"{partitions}; they must match for the tables to be co-partitioned"
            )


def prepare_topics(settings: ReadModelSettings, models: ReadModels) -> None:
    """Check the source topics and create the changelog topics (idempotent)."""
    kafka = settings.kafka_client_config()
    partitions = int(models.occupancy.table.partitions)
    try:
        existing = list_topics(kafka)
    except KafkaException as exc:
        raise ReadModelError(
            f"cannot list the topics of the broker at {settings.kafka_bootstrap}: {exc}"
        ) from exc
    check_sources(existing, partitions, SOURCE_TOPICS)
    results = create_topics(
        kafka, changelog_specs(models), replication_factor=settings.replication_factor
    )
    for r in results:
        if r.outcome == "mismatch":
            raise ReadModelError(
                f"changelog topic {r.name} has {r.partitions} partitions, not {partitions} "
                f"({r.detail}); delete it or use another app_id"
            )
        log.info("changelog topic=%s partitions=%d outcome=%s", r.name, r.partitions, r.outcome)


def run_worker(settings: ReadModelSettings) -> None:
    """Build the app and run one worker until it is stopped (SIGINT/SIGTERM)."""
    import faust

    models = create_app(settings)
    worker_dir(settings).mkdir(parents=True, exist_ok=True)
    if settings.create_topics:
        prepare_topics(settings, models)
    log.info(
        "read-model worker app_id=%s web=%s fetch_max_wait_ms=%d session_timeout_s=%.1f",
        settings.app_id,
        settings.web_url,
        settings.fetch_max_wait_ms,
        settings.session_timeout_s,
    )
    worker = faust.Worker(models.app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
