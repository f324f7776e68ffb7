"""``vidsight alerts tail``: the operator's terminal view of the alerts topic.

One readable line per alert state (time, camera, sensor, rule, label, lifecycle, score,
severity, evidence) or, with ``--json``, one JSON object per line with the Avro field names,
times as UTC microseconds, exactly as other tools read the topic.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from schemas import catalog
from schemas.errors import SerializationError
from schemas.records import Alert, from_micros
from schemas.serde import Serde
from stream_processors.runtime.kafka import consumer_config, partitions_of
from stream_processors.runtime.settings import ProcessorSettings

log = logging.getLogger(__name__)


def format_time(ts_us: int) -> str:
    """UTC time with milliseconds, e.g. ``2024-05-01 12:00:03.120Z``."""
    return from_micros(ts_us).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def format_alert(alert: Alert) -> str:
    """One readable line: time, camera, sensor, rule/kind, label, lifecycle, score, severity,
    evidence URI (``-`` when none)."""
    return "  ".join(
        (
            format_time(alert.updated_ts),
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


def alert_json(datum: Mapping[str, Any]) -> str:
    """The Avro datum of an alert as one line of JSON."""
    return json.dumps(datum, ensure_ascii=False, separators=(",", ":"))


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
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    shown = 0
    try:
        topic = settings.topics.alerts
        consumer.assign(
            [KafkaTopicPartition(topic, p, start) for p in partitions_of(consumer, topic)]
        )
        last = time.monotonic()
        while not stop.is_set():
            msgs = consumer.consume(500, 0.2)
            now = time.monotonic()
            for msg in msgs:
                if msg.error() is not None:
                    log.warning("consume error: %s", msg.error())
                    continue
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
