"""Narrow errors: data -> SerializationError (DLQ), outage -> RegistryUnavailableError (retry),
a registry refusal -> its SchemaError (stop), a bug in our code -> the bug itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from schemas import catalog
from schemas.errors import (
    RegistryAuthError,
    RegistryUnavailableError,
    SchemaError,
    SerializationError,
)
from schemas.records import FrameRef, frame_event_id
from schemas.registry_access import RegistryResolver, registry_client
from schemas.serde import InMemorySchemaResolver, Serde, TopicSerde

TS = 1_700_000_000_000_000
FRAME = FrameRef(
    event_id=frame_event_id("c", TS, 1),
    camera_id="c",
    frame_ts=TS,
    seq=1,
    width=2,
    height=2,
    motion_score=0.0,
)


@dataclass(frozen=True, slots=True)
class _Frame:
    """A FrameRef look-alike whose ``from_avro`` fails the way ``fail`` says."""

    SCHEMA: ClassVar[str] = "FrameRef"
    fail: ClassVar[type[Exception]] = TypeError

    camera_id: str

    def to_avro(self) -> dict[str, Any]:
        return FRAME.to_avro()

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> _Frame:
        raise cls.fail(f"{cls.fail.__name__} while building from {sorted(data)[:2]}")


def _codec(fail: type[Exception]) -> tuple[TopicSerde[Any], bytes]:
    resolver = InMemorySchemaResolver()
    kind = type(f"Frame{fail.__name__}", (_Frame,), {"fail": fail})
    codec: TopicSerde[Any] = TopicSerde(catalog.topic(catalog.FRAMES), kind, resolver)
    return codec, Serde(resolver).encode(catalog.FRAMES, FRAME)


@pytest.mark.parametrize("bug", [TypeError, AttributeError, KeyError])
def test_a_bug_in_from_avro_surfaces_instead_of_going_to_the_dlq(bug: type[Exception]) -> None:
    codec, data = _codec(bug)
    with pytest.raises(bug) as info:
        codec.decode(data, partition=3, offset=42)
    assert not isinstance(info.value, SerializationError)
    (note,) = info.value.__notes__
    assert "topic=vidsight.frames partition=3 offset=42" in note and "a bug" in note
    with pytest.raises(bug):
        codec.decode_many([data], partition=3, offsets=[42])


def test_a_value_the_record_refuses_is_bad_data() -> None:
    codec, data = _codec(ValueError)
    with pytest.raises(SerializationError, match=r"ValueError.*offset=42"):
        codec.decode(data, partition=3, offset=42)
    with pytest.raises(SerializationError, match="offset=9"):
        codec.decode_many([data], partition=3, offsets=[9])


class _Refusing(InMemorySchemaResolver):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def schema_by_id(self, schema_id: int) -> str:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        RegistryUnavailableError("registry down"),
        RegistryAuthError("registry refused the credentials"),
        SchemaError("registry refused the request: HTTP 400"),
    ],
)
def test_registry_errors_are_not_bad_data(error: SchemaError) -> None:
    data = Serde(InMemorySchemaResolver()).encode(catalog.FRAMES, FRAME)
    with pytest.raises(type(error)) as info:
        Serde(_Refusing(error)).decode(catalog.FRAMES, data, partition=1, offset=2)
    assert info.value is error


def test_an_unknown_id_or_a_broken_writer_schema_is_bad_data() -> None:
    resolver = InMemorySchemaResolver()
    data = Serde(resolver).encode(catalog.FRAMES, FRAME)
    with pytest.raises(SerializationError, match=r"unknown schema id 1 \(topic=.*offset=2\)"):
        Serde(InMemorySchemaResolver()).decode(catalog.FRAMES, data, partition=1, offset=2)
    broken = InMemorySchemaResolver()
    broken.add('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}')
    with pytest.raises(SerializationError, match="schema id 1 is not a valid Avro schema"):
        Serde(broken).decode(catalog.FRAMES, data, partition=1, offset=2)


# -- the registry client: what each answer of a registry becomes --------------------------


class _Registry(ThreadingHTTPServer):
    """A registry answering every request with one status (and a delay), on loopback."""

    status = 200
    delay_s = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _Registry

    def do_GET(self) -> None:
        time.sleep(self.server.delay_s)
        body = json.dumps({"error_code": self.server.status * 100, "message": "as told"})
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[_Registry]:
    server = _Registry(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _resolver(url: str) -> RegistryResolver:
    client = registry_client(url, **{"max.retries": 0, "timeout": 0.5})
    return RegistryResolver(url, client=client)


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (500, RegistryUnavailableError, "failed"),
        (503, RegistryUnavailableError, "failed"),
        (429, RegistryUnavailableError, "failed"),
        (404, SerializationError, "unknown schema id 7"),
        (401, RegistryAuthError, r"schema id 7 \(HTTP 401\): check registry_user"),
        (403, RegistryAuthError, "HTTP 403"),
        (400, SchemaError, "refused the request for schema id 7: HTTP 400 as told"),
        (422, SchemaError, "HTTP 422"),
    ],
)
def test_registry_answers_map_to_outage_data_or_refusal(
    registry: _Registry, status: int, error: type[SchemaError], message: str
) -> None:
    registry.status = status
    host, port = registry.server_address[:2]
    with _resolver(f"http://{host!s}:{port}") as resolver, pytest.raises(error) as info:
        resolver.schema_by_id(7)
    assert type(info.value) is error  # a 4xx is not an outage, an outage not a refusal
    assert info.match(message)


def test_lookup_refusals_are_not_outages(registry: _Registry) -> None:
    registry.status = 400
    host, port = registry.server_address[:2]
    url = f"http://{host!s}:{port}"
    client = registry_client(url, **{"max.retries": 0})
    resolver = RegistryResolver(url, auto_register=False, client=client)
    with pytest.raises(SchemaError, match="refused the request for s-value: HTTP 400") as info:
        resolver.id_for("s-value", '"string"')
    assert not isinstance(info.value, RegistryUnavailableError)


def test_a_registry_that_times_out_or_is_not_there_is_an_outage(registry: _Registry) -> None:
    registry.delay_s = 2.0
    host, port = registry.server_address[:2]
    with _resolver(f"http://{host!s}:{port}") as resolver, pytest.raises(RegistryUnavailableError):
        resolver.schema_by_id(7)
    registry.delay_s = 0.0
    with _resolver("http://127.0.0.1:1") as resolver, pytest.raises(RegistryUnavailableError):
        resolver.schema_by_id(7)
