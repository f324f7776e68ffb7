"""Confluent behaviours of the registry as a real process (issue 13): subjects with ``/`` through
confluent-kafka's client, ``GET /schemas``, subject modes, content negotiation, verbose
compatibility on a broken schema, and Avro schema references used end to end by
confluent-kafka's AvroSerializer and AvroDeserializer through the broker.

Started like test_registry.py: its own broker (Tansu, in memory) and registry subprocess.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from test_registry import READING_V1, READING_V2, Registry, broker  # noqa: F401 (broker: fixture)

pytestmark = pytest.mark.integration

MEDIA = "application/vnd.schemaregistry.v1+json"


@pytest.fixture(scope="module")
def registry(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:  # noqa: F811
    handle = Registry(broker, tmp_path_factory.mktemp("confluent"), topic="_schemas_confluent")
    handle.start()
    try:
        yield handle
    finally:
        if handle.proc is not None:
            handle.stop(signal.SIGKILL)


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


def http(registry: Registry) -> httpx.Client:
    return httpx.Client(base_url=registry.url, headers={"Content-Type": MEDIA}, timeout=10)


def shared(tag: str) -> dict[str, Any]:
    return {
        "type": "record",
        "name": "Place",
        "namespace": f"vidsight.shared{tag}",
        "fields": [{"name": "zone", "type": "string"}, {"name": "floor", "type": "int"}],
    }


def sighting(tag: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": "Sighting",
        "namespace": "vidsight.test",
        "fields": [
            {"name": "camera_id", "type": "string"},
            {"name": "place", "type": f"vidsight.shared{tag}.Place"},
            *extra,
        ],
    }


def test_a_subject_with_slashes_through_confluents_client(registry: Registry, tag: str) -> None:
    subject = f"vidsight/{tag}/readings.proto"
    client = SchemaRegistryClient({"url": registry.url})
    schema_id = client.register_schema(subject, Schema(json.dumps(READING_V1), "AVRO"))
    assert subject in client.get_subjects()
    assert client.get_versions(subject) == [1]
    assert client.get_latest_version(subject).schema_id == schema_id
    assert client.get_version(subject, 1).subject == subject
    assert client.lookup_schema(subject, Schema(json.dumps(READING_V1), "AVRO")).version == 1
    client.set_compatibility(subject, "FULL")
    assert client.get_compatibility(subject) == "FULL"
    assert client.test_compatibility(subject, Schema(json.dumps(READING_V2), "AVRO"))
    assert client.register_schema(subject, Schema(json.dumps(READING_V2), "AVRO")) != schema_id
    assert client.delete_version(subject, 2) == 2
    assert client.delete_subject(subject) == [1]
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    with pytest.raises(SchemaRegistryError) as gone:
        client.get_versions(subject)
    assert (gone.value.http_status_code, gone.value.error_code) == (404, 40401)


def test_schemas_listing_mode_negotiation_and_verbose_compatibility(
    registry: Registry, tag: str
) -> None:
    prefix = f"list-{tag}-"
    with http(registry) as raw:
        for name in ("a", "b"):
            created = raw.post(
                f"/subjects/{prefix}{name}/versions", json={"schema": json.dumps(READING_V1)}
            )
            assert created.status_code == 200, created.text
        listed = raw.get("/schemas", params={"subjectPrefix": prefix, "latestOnly": "true"})
        assert [s["subject"] for s in listed.json()] == [f"{prefix}a", f"{prefix}b"]
        assert (
            raw.get("/schemas", params={"subjectPrefix": prefix, "limit": 1}).json()[0]["subject"]
            == f"{prefix}a"
        )

        unset = raw.get(f"/mode/{prefix}a")
        assert (unset.status_code, unset.json()["error_code"]) == (404, 40409)
        assert raw.get(f"/mode/{prefix}a?defaultToGlobal=true").json() == {"mode": "READWRITE"}

        as_json = raw.get("/subjects", headers={"Accept": "application/json"})
        assert as_json.headers["content-type"] == "application/json"
        refused = raw.get("/subjects", headers={"Accept": "text/html"})
        assert (refused.status_code, refused.json()["error_code"]) == (406, 406)

        path = f"/compatibility/subjects/{prefix}a/versions/latest"
        verbose = raw.post(path + "?verbose=true", json={"schema": "{broken"})
        assert verbose.status_code == 200
        assert verbose.json()["is_compatible"] is False and verbose.json()["messages"]
        plain = raw.post(path, json={"schema": "{broken"})
        assert (plain.status_code, plain.json()["error_code"]) == (422, 42201)


def test_references_end_to_end_with_confluents_serde(registry: Registry, tag: str) -> None:
    client = SchemaRegistryClient({"url": registry.url})
    shared_subject = f"shared-{tag}-value"
    topic = f"sightings-{tag}"
    subject = f"{topic}-value"
    ref = SchemaReference(f"vidsight.shared{tag}.Place", shared_subject, 1)
    client.register_schema(shared_subject, Schema(json.dumps(shared(tag)), "AVRO"))
    schema_id = client.register_schema(subject, Schema(json.dumps(sighting(tag)), "AVRO", [ref]))
    registered = client.get_latest_version(subject)
    assert registered.schema_id == schema_id
    assert [(r.name, r.subject, r.version) for r in registered.schema.references or []] == [
        (ref.name, ref.subject, ref.version)
    ]
    with http(registry) as raw:
        assert raw.get(f"/schemas/ids/{schema_id}").json()["references"] == [
            {"name": ref.name, "subject": shared_subject, "version": 1}
        ]
        assert raw.get(f"/subjects/{shared_subject}/versions/1/referencedby").json() == [schema_id]
        refused = raw.delete(f"/subjects/{shared_subject}/versions/1")
        assert (refused.status_code, refused.json()["error_code"]) == (422, 42206)

    # A compatible evolution passes through the references; a breaking one does not.
    score = {"name": "score", "type": "double", "default": 0.0}
    assert client.test_compatibility(
        subject, Schema(json.dumps(sighting(tag, score)), "AVRO", [ref])
    )
    breaking = sighting(tag, {"name": "zone2", "type": "string"})
    assert not client.test_compatibility(subject, Schema(json.dumps(breaking), "AVRO", [ref]))

    # The producer side as shared-type users run it: no auto-registration, latest version.
    serializer = AvroSerializer(
        client, conf={"auto.register.schemas": False, "use.latest.version": True}
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    value = {"camera_id": "gate-1", "place": {"zone": "north", "floor": 2}}
    payload = serializer(value, ctx)
    assert payload is not None and int.from_bytes(payload[1:5], "big") == schema_id

    admin = AdminClient({"bootstrap.servers": registry.bootstrap})  # kept alive until done
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=10)
    producer = Producer({"bootstrap.servers": registry.bootstrap})
    producer.produce(topic, key=b"gate-1", value=payload)
    assert producer.flush(10) == 0
    consumer = Consumer(
        {"bootstrap.servers": registry.bootstrap, "group.id": tag, "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        msg = None
        deadline = time.monotonic() + 20
        while msg is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
        assert msg is not None and msg.error() is None
        # A consumer that never saw either schema: fetched by id, references resolved.
        fresh = AvroDeserializer(SchemaRegistryClient({"url": registry.url}))
        assert fresh(msg.value(), ctx) == value
    finally:
        consumer.close()


def test_references_survive_a_restart(registry: Registry, tag: str) -> None:
    client = SchemaRegistryClient({"url": registry.url})
    shared_subject = f"shared-{tag}-value"
    ref = SchemaReference(f"vidsight.shared{tag}.Place", shared_subject, 1)
    client.register_schema(shared_subject, Schema(json.dumps(shared(tag)), "AVRO"))
    schema_id = client.register_schema(
        f"restart-{tag}-value", Schema(json.dumps(sighting(tag)), "AVRO", [ref])
    )
    assert registry.stop(signal.SIGKILL) == -signal.SIGKILL
    registry.start()
    with http(registry) as raw:
        assert raw.get(f"/schemas/ids/{schema_id}").json()["references"][0]["version"] == 1
        assert raw.get(f"/subjects/{shared_subject}/versions/1/referencedby").json() == [schema_id]
