"""The runtime's librdkafka configs: the deployment's pass-through, the local-broker defaults."""

from __future__ import annotations

from vidsight.kafka.clients import consumer_config, is_cooperative, producer_config

BASE = {"bootstrap.servers": "b:9092", "security.protocol": "SASL_SSL", "acks": "1"}


def test_consumer_config_keeps_security_and_commits_by_hand() -> None:
    conf = consumer_config(
        BASE, group_id="g", session_timeout_ms=6000, fetch_wait_max_ms=50, logger="rdkafka.t"
    )
    assert conf["security.protocol"] == "SASL_SSL" and conf["group.id"] == "g"
    assert conf["enable.auto.commit"] is False and conf["enable.auto.offset.store"] is False
    assert conf["heartbeat.interval.ms"] == 2000 and conf["fetch.wait.max.ms"] == 50
    assert "partition.assignment.strategy" not in conf


def test_consumer_overrides_win() -> None:
    conf = consumer_config(
        BASE,
        group_id="g",
        session_timeout_ms=60_000,
        fetch_wait_max_ms=50,
        logger="rdkafka.t",
        assignment_strategy="range",
        overrides={"partition.assignment.strategy": "cooperative-sticky", "group.id": "other"},
    )
    assert conf["heartbeat.interval.ms"] == 3000  # capped
    assert conf["group.id"] == "other" and is_cooperative(conf)


def test_producer_defaults_leave_the_deployment_its_say() -> None:
    conf = producer_config(BASE, logger="rdkafka.dlq")
    assert conf["acks"] == "1"  # the pass-through decides where it says something
    assert conf["enable.idempotence"] is False
    assert conf["max.in.flight.requests.per.connection"] == 1


def test_producer_with_a_decision_overrides_the_deployment() -> None:
    conf = producer_config(
        BASE, logger="rdkafka.p", idempotent=True, linger_ms=5, partitioner="murmur2_random"
    )
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert (conf["linger.ms"], conf["partitioner"]) == (5, "murmur2_random")
    assert conf["security.protocol"] == "SASL_SSL"
