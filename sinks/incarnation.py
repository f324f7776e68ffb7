"""Which incarnation of a topic a record's offset belongs to.

Offsets are unique within one topic only as long as the topic lives: a topic deleted and
created again, or a broker that starts over empty (the local one does, see
infra/stack/broker_storage.py), hands out offset 0 again. The stores that key on offsets
(ClickHouse's resume point and insert tokens, the S3 archive's object names) therefore key
on the topic's id as well, the UUID Kafka gives each topic when it is created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicCollection, Uuid
from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)

TopicIds = Callable[[Sequence[str]], Mapping[str, str]]
"""Topic names -> their incarnation (what ``describe`` returns)."""

UNKNOWN = ""
"""The incarnation of a topic whose broker gives no topic ids (older than Kafka 2.8)."""

_UNSUPPORTED = frozenset({KafkaError.UNSUPPORTED_VERSION, KafkaError._UNSUPPORTED_FEATURE})
_MASK = (1 << 64) - 1


def incarnation(topic_id: Uuid | None) -> str:
    """A topic id as 32 hex digits (safe in S3 keys and SQL); UNKNOWN for none or zero."""
    if topic_id is None:
        return UNKNOWN
    # The type stub lists only the constructor; the C type has both getters.
    high = topic_id.get_most_significant_bits() & _MASK  # type: ignore[attr-defined]
    low = topic_id.get_least_significant_bits() & _MASK  # type: ignore[attr-defined]
    return f"{high:016x}{low:016x}" if high or low else UNKNOWN


def describe(
    kafka_config: Mapping[str, Any], topics: Sequence[str], *, timeout_s: float = 10.0
) -> dict[str, str]:
    """The incarnation of each topic, asked of the broker.

    Raises KafkaException when the broker cannot answer now (the caller retries); a broker
    that does not know the request gets UNKNOWN for every topic, so offsets alone key.
    """
    if not topics:
        return {}
    conf = {**kafka_config, "logger": logging.getLogger("rdkafka.admin")}
    admin = AdminClient(conf)
    futures = admin.describe_topics(TopicCollection(list(topics)), request_timeout=timeout_s)
    out: dict[str, str] = {}
    for name, future in futures.items():
        try:
            out[name] = incarnation(future.result(timeout=timeout_s).topic_id)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() in _UNSUPPORTED:
                log.warning("broker gives no topic ids (%s): offsets alone key the stores", err)
                out[name] = UNKNOWN
                continue
            raise
    return out
