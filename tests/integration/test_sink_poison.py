"""A poison record goes to vidsight.dlq with its context, and everything behind it flows."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
from confluent_kafka import Consumer, Producer
from test_sink_env import isolated

from schemas import catalog
from schemas.serde import Serde
from sinks.runner import RunOptions
from sinks.service import run_sinks
from tests.support import samples
from vidsight.kafka.dlq import parse_dlq_headers

pytestmark = pytest.mark.integration


def dead_letters(bootstrap: str, tag: str, want: int, timeout_s: float = 30) -> list[tuple]:  # type: ignore[type-arg]
    """(headers, key, value) of this test's dead letters (matched by message key)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"it-dlq-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([catalog.DLQ])
    found = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            if (msg.key() or b"").startswith(f"{tag}-".encode()):
                found.append((parse_dlq_headers(msg.headers()), msg.key(), msg.value()))
    finally:
        consumer.close()
    return found


def test_poison_and_store_rejected_records_are_dead_lettered_and_the_rest_flows(
    catalog_topics,  # type: ignore[no-untyped-def]
) -> None:
    from schemas.registration import register_all

    register_all(catalog_topics.endpoints)
    tag = f"pz{uuid.uuid4().hex[:6]}"
    scene = samples.scene(1, 50, prefix=f"{tag}-")
    camera = scene.cameras[0].camera_id
    alerts = scene.alerts
    garbage = b"\x00\x00\x00\x00\x07not avro at all"
    # PostgreSQL refuses NUL in text: decodes fine, fails in the store, found by bisection.
    nul = replace(scene.feedback[0], operator="ol\x00ga")
    good_feedback = scene.feedback[1:]

    producer = Producer({"bootstrap.servers": catalog_topics.kafka_bootstrap, "acks": "all"})
    codec = Serde.for_registry(catalog_topics.endpoints)
    key = camera.encode()
    half = len(alerts) // 2
    for a in alerts[:half]:
        producer.produce(catalog.ALERTS, key=key, value=codec.encode(catalog.ALERTS, a))
    producer.produce(catalog.ALERTS, key=key, value=garbage)
    for a in alerts[half:]:
        producer.produce(catalog.ALERTS, key=key, value=codec.encode(catalog.ALERTS, a))
    for f in [nul, *good_feedback]:
        producer.produce(catalog.FEEDBACK, key=key, value=codec.encode(catalog.FEEDBACK, f))
    assert producer.flush(30) == 0

    p = isolated(catalog_topics, tag)
    result = run_sinks(
        ["postgres", "clickhouse"], p.settings, options=RunOptions(exit_when_idle_s=3)
    )
    assert result.errors == {}

    n_alerts = len({a.alert_id for a in alerts})
    with p.pg() as conn:
        rows = conn.execute(
            "SELECT lifecycle, revision, count(*) FROM alerts WHERE camera_id = %s GROUP BY 1, 2",
            (camera,),
        ).fetchall()
        fb = conn.execute(
            "SELECT count(*) FROM feedback WHERE camera_id = %s", (camera,)
        ).fetchone()
    assert sorted(rows) == scene.alert_states(), "the alerts behind the poison arrived"
    assert fb == (len(good_feedback),)
    assert p.ch(f"SELECT count() FROM alerts FINAL WHERE camera_id = '{camera}'") == [(n_alerts,)]

    letters = dead_letters(catalog_topics.kafka_bootstrap, tag, want=3)
    by_stage = {(h["vidsight.stage"], h["vidsight.source.topic"]): (h, v) for h, _, v in letters}
    assert set(by_stage) == {
        ("sink.postgres", catalog.ALERTS),
        ("sink.clickhouse", catalog.ALERTS),
        ("sink.postgres", catalog.FEEDBACK),
    }
    headers, value = by_stage[("sink.postgres", catalog.ALERTS)]
    assert value == garbage, "the original bytes, unchanged"
    assert headers["vidsight.error.class"] == "SerializationError"
    assert int(headers["vidsight.source.offset"]) >= 0
    assert headers["vidsight.source.partition"].isdigit()
    headers, value = by_stage[("sink.postgres", catalog.FEEDBACK)]
    assert headers["vidsight.error.class"] == "BatchDataError"
    assert "0x00" in headers["vidsight.error.message"]
    assert codec.decode(catalog.FEEDBACK, value) == nul
