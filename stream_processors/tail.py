"""``vidsight alerts tail``: the operator's terminal view of the alerts topic.

One readable line per alert state under a header (time, alert id, camera, sensor, rule, label,
lifecycle, score, severity, evidence) or, with ``--json``, one JSON object per line with the
Avro field names and the ``timestamp-micros`` fields as ISO 8601 UTC strings.

Without ``--from-beginning`` only alerts written after the tail started are shown: the
consumer starts at the end of each partition, and records stamped before the start are
skipped too, because a broker may report an end offset that is too low (the local one does
when a produce batch holds several records).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from schemas import catalog
from schemas.errors import SerializationError
from schemas.records import Alert, from_micros
from schemas.serde import Serde
from stream_processors.runtime.kafka import assign_recent, consumer_config, partitions_of
from stream_processors.runtime.settings import ProcessorSettings

log = logging.getLogger(__name__)


def format_time(ts_us: int) -> str:
    """UTC time with milliseconds, e.g. ``2024-05-01 12:00:03.120Z``."""
    return from_micros(ts_us).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


HEADER = "  ".join(
    (
        f"{'updated (UTC)':<24}",
        f"{'alert id':<36}",
        "camera",
        "sensor",
        "rule/kind",
        "label",
        "state ",
        "score",
        "severity",
        "evidence",
    )
)
"""The column names above ``format_alert`` lines."""


def format_alert(alert: Alert) -> str:
    """One readable line: time, alert id, camera, sensor, rule/kind, label, lifecycle, score,
    severity, evidence URI (``-`` when none)."""
    return "  ".join(
        (
            f"{format_time(alert.updated_ts):<24}",
            alert.alert_id,
            alert.camera_id,
            alert.sensor_id,
            f"{alert.rule.value}/{alert.kind.value}",
            alert.label,
            f"{alert.lifecycle.value.upper():<6}",
            f"{alert.top_score:.2f}",
            alert.severity.value,
            alert.evidence_uri or "-",
        )
    )


def timestamp_fields(schema: Mapping[str, Any]) -> frozenset[str]:
    """Top-level fields of a record schema typed ``timestamp-micros`` (nullable ones too)."""
    names = set()
    for field in schema.get("fields", ()):
        kinds = field["type"] if isinstance(field["type"], list) else [field["type"]]
        if any(isinstance(k, dict) and k.get("logicalType") == "timestamp-micros" for k in kinds):
            names.add(field["name"])
    return frozenset(names)


def iso_utc(ts_us: int) -> str:
    """UTC microseconds as ISO 8601, e.g. ``2024-05-01T12:00:03.120000Z``."""
    return from_micros(ts_us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alert_json(datum: Mapping[str, Any], times: frozenset[str] = frozenset()) -> str:
    """The Avro datum of an alert as one line of JSON, fields in ``times`` as ISO 8601 UTC."""
    shown = {k: iso_utc(v) if k in times and isinstance(v, int) else v for k, v in datum.items()}
    return json.dumps(shown, ensure_ascii=False, separators=(",", ":"))


def tail_alerts(
    settings: ProcessorSettings,
    serde: Serde,
    show: Callable[[Alert, Mapping[str, Any]], None],
    *,
    from_beginning: bool = False,
    exit_when_idle_s: float | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Call ``show`` for every alert message until stopped or idle; returns how many.

    Reads every partition without a consumer group (tailing commits nothing). Records that
    cannot be decoded are logged and skipped: the processor dead-letters nothing here, this
    is a viewer.
    """
    codec = serde.topic(catalog.ALERTS, Alert)
    stop = stop if stop is not None else threading.Event()
    consumer = Consumer(consumer_config(settings, **{"group.id": f"{settings.group_id}-tail"}))
    started_ms = int(time.time() * 1000)
    shown = 0
    try:
        topic = settings.topics.alerts
        if from_beginning:
            consumer.assign(
                [
                    KafkaTopicPartition(topic, p, OFFSET_BEGINNING)
                    for p in partitions_of(consumer, topic)
                ]
            )
        else:
            assign_recent(consumer, [topic])
        # Said once assigned: what a caller waits for before writing what the tail must show.
        log.info("tailing topic=%s from_beginning=%s", topic, from_beginning)
        last = time.monotonic()
        while not stop.is_set():
            msgs = consumer.consume(500, 0.2)
            now = time.monotonic()
            for msg in msgs:
                if msg.error() is not None:
                    log.warning("consume error: %s", msg.error())
                    continue
                if not from_beginning and msg.timestamp()[1] < started_ms:
                    continue  # written before the tail started: the end offset was too low
                try:
                    datum = codec.decode_datum(
                        msg.value(), partition=msg.partition(), offset=msg.offset()
                    )
                    alert = Alert.from_avro(datum)
                except (SerializationError, KeyError, ValueError) as exc:
                    log.warning("skipping an unreadable alert record: %s", exc)
                    continue
                show(alert, datum)
                shown += 1
            if msgs:
                last = now
            elif exit_when_idle_s is not None and now - last >= exit_when_idle_s:
                break
    finally:
        consumer.close()
    return shown
