"""Consume a vidsight topic from your own code: confluent-kafka + the schema registry.

    python -m schemas.examples.consume vidsight.alerts --from-beginning --max 5

Every topic is keyed by camera id (a UTF-8 string); values are Avro in the Confluent wire
format, so the registry-aware AvroDeserializer turns each one into a dict with the Avro field
names (times are UTC microseconds). Against the local stack the connection settings come
from the stack's data dir (``--data-dir``, default ``./.vidsight``): ``stack.json`` for the
addresses, ``secrets/registry_user`` and ``secrets/registry_password`` for the registry's
basic auth. Against a production cluster pass them as options or environment variables.

Settings that matter (and why):
- ``session.timeout.ms=6000``: a broker holds a JoinGroup for up to about half the session
  timeout while it waits for other members (the local broker always waits); with the default
  45 s the first record arrives after ~23 s. Six seconds keeps the first poll at ~3 s.
- ``fetch.wait.max.ms=100``: the local broker does not end a fetch early when data arrives, so
  this bounds the delay between a record being written and being read.
- ``auto.offset.reset``: ``latest`` reads only new records; ``--from-beginning`` reads all.
- ``enable.auto.commit``: kept on here; commit after processing in a real service instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import DeserializingConsumer, KafkaError
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import StringDeserializer


def connection(data_dir: Path) -> dict[str, str]:
    """Bootstrap servers, registry URL and credentials: env vars first, then the local stack."""
    endpoints: dict[str, Any] = {}
    stack_file = data_dir / "stack.json"
    if stack_file.is_file():
        endpoints = json.loads(stack_file.read_text()).get("endpoints", {})

    def secret(name: str) -> str:
        path = data_dir / "secrets" / name
        return path.read_text().strip() if path.is_file() else ""

    env = os.environ.get
    return {
        "bootstrap": env("VIDSIGHT_KAFKA_BOOTSTRAP") or endpoints.get("kafka_bootstrap", ""),
        "registry_url": env("VIDSIGHT_REGISTRY_URL") or endpoints.get("registry_url", ""),
        "registry_user": env("VIDSIGHT_REGISTRY_USER") or secret("registry_user"),
        "registry_password": env("VIDSIGHT_REGISTRY_PASSWORD") or secret("registry_password"),
        # librdkafka security keys of a production cluster (SASL_SSL/SCRAM, TLS), as JSON
        "kafka_config": env("VIDSIGHT_KAFKA_CONFIG") or "{}",
    }


def build_consumer(conn: dict[str, str], group: str, from_beginning: bool) -> DeserializingConsumer:
    registry_conf = {"url": conn["registry_url"]}
    if conn["registry_user"]:
        registry_conf["basic.auth.user.info"] = (
            f"{conn['registry_user']}:{conn['registry_password']}"
        )
    registry = SchemaRegistryClient(registry_conf)
    return DeserializingConsumer(
        {
            **json.loads(conn["kafka_config"]),
            "bootstrap.servers": conn["bootstrap"],
            "group.id": group,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": 100,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "key.deserializer": StringDeserializer("utf_8"),
            "value.deserializer": AvroDeserializer(registry),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", help="e.g. vidsight.alerts, vidsight.sensor-events")
    parser.add_argument("--data-dir", type=Path, default=Path(".vidsight"))
    parser.add_argument("--group", default=f"example-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--max", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--idle", type=float, default=0, help="stop after N idle seconds")
    args = parser.parse_args(argv)

    consumer = build_consumer(connection(args.data_dir), args.group, args.from_beginning)
    consumer.subscribe([args.topic])
    seen, idle = 0, 0.0
    try:
        while not args.max or seen < args.max:
            msg = consumer.poll(1.0)
            if msg is None:
                idle += 1.0
                if args.idle and idle >= args.idle:
                    break
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                print(f"error: {error}", file=sys.stderr)
                return 1
            idle = 0.0
            seen += 1
            record = {
                "camera_id": msg.key(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "value": msg.value(),
            }
            print(json.dumps(record, default=str), flush=True)
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
