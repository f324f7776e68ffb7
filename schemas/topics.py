"""Create the topic catalog on a Kafka cluster explicitly (never rely on auto-creation).

The plan itself (names, partitions, compaction and other configs per topic) is
``schemas.catalog``; this module applies it through the Kafka admin API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from schemas.catalog import CATALOG, TopicSpec
from schemas.errors import SchemaError

log = logging.getLogger(__name__)


class TopicAdminError(SchemaError):
    """The broker refused or failed a topic operation."""


@dataclass(frozen=True, slots=True)
class TopicResult:
    """Outcome for one topic: ``created``, ``exists`` or ``mismatch`` (partition count differs)."""

    name: str
    partitions: int
    outcome: str
    detail: str = ""


def admin_client(kafka_config: Mapping[str, Any]) -> AdminClient:
    conf = dict(kafka_config)
    conf.setdefault("logger", logging.getLogger("rdkafka.admin"))
    return AdminClient(conf)


def create_topics(
    kafka_config: Mapping[str, Any],
    specs: Iterable[TopicSpec] = CATALOG,
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> list[TopicResult]:
    """Create each topic with its partitions and configs; existing topics are left as they are."""
    admin = admin_client(kafka_config)
    specs = list(specs)
    existing = admin.list_topics(timeout=timeout_s).topics
    results: list[TopicResult] = []
    new: list[NewTopic] = []
    for spec in specs:
        meta = existing.get(spec.name)
        if meta is None:
            new.append(
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=replication_factor,
                    config=dict(spec.config),
                )
            )
            continue
        count = len(meta.partitions)
        if count != spec.partitions:
            results.append(
                TopicResult(spec.name, count, "mismatch", f"catalog wants {spec.partitions}")
            )
        else:
            results.append(TopicResult(spec.name, count, "exists"))
    if new:
        futures = admin.create_topics(new, request_timeout=timeout_s)
        for topic in new:
            try:
                futures[topic.topic].result(timeout=timeout_s)
                results.append(TopicResult(topic.topic, topic.num_partitions, "created"))
            except KafkaException as exc:
                err = exc.args[0]
                if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    results.append(TopicResult(topic.topic, topic.num_partitions, "exists"))
                    continue
                raise TopicAdminError(f"creating topic {topic.topic!r} failed: {err}") from exc
    order = {spec.name: i for i, spec in enumerate(specs)}
    return sorted(results, key=lambda r: order[r.name])


def list_topics(kafka_config: Mapping[str, Any], timeout_s: float = 10.0) -> dict[str, int]:
    """Topic name -> partition count as the broker reports it."""
    admin = admin_client(kafka_config)
    meta = admin.list_topics(timeout=timeout_s)
    return {name: len(t.partitions) for name, t in sorted(meta.topics.items())}
