"""The REST contract (statuses, error codes, bodies, media types) over an in-memory log.

The Kafka-backed service and the real confluent-kafka clients are exercised in
tests/integration/test_registry.py; here the same app runs on MemoryEventLog so every edge of
the API is checked in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from schemas.registry.api import MEDIA_TYPE
from schemas.registry.app import create_app
from schemas.registry.avro_schema import parse_avro
from schemas.registry.errors import StoreTimeoutError
from schemas.registry.events import Event
from schemas.registry.log import MemoryEventLog
from schemas.registry.service import RegistryService
from schemas.registry.settings import RegistrySettings

V1 = json.dumps({"type": "record", "name": "T", "fields": [{"name": "a", "type": "string"}]})
V2 = json.dumps(
    {
        "type": "record",
        "name": "T",
        "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0}],
    }
)
BREAKING = json.dumps(
    {
        "type": "record",
        "name": "T",
        "fields": [{"name": "a", "type": "string"}, {"name": "c", "type": "int"}],
    }
)
HEADERS = {"Content-Type": MEDIA_TYPE}
BASE_URL = "http://127.0.0.1:8081"  # a Host the registry answers to


def make_client(event_log: MemoryEventLog | None = None) -> TestClient:
    """The app from the real factory (lifespan included) over an in-memory log."""
    app = create_app(RegistrySettings(), event_log=event_log or MemoryEventLog())
    return TestClient(app, base_url=BASE_URL)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client() as c:
        yield c


def post(client: TestClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(path, content=json.dumps(body), headers={**HEADERS, **headers})


def register(client: TestClient, subject: str, schema: str) -> int:
    response = post(client, f"/subjects/{subject}/versions", {"schema": schema})
    assert response.status_code == 200, response.text
    schema_id: int = response.json()["id"]
    return schema_id


def assert_error(response: Any, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]


# ------------------------------------------------------------------------------- basics


def test_root_and_empty_registry(client: TestClient) -> None:
    assert client.get("/").json() == {}
    response = client.get("/subjects")
    assert response.status_code == 200
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json() == []
    assert client.get("/schemas/types").json() == ["AVRO"]


def test_register_get_and_lookup(client: TestClient) -> None:
    assert register(client, "t-value", V1) == 1
    assert register(client, "other-value", V1) == 1  # same schema, same id
    assert client.get("/subjects").json() == ["other-value", "t-value"]
    assert client.get("/subjects/t-value/versions").json() == [1]
    latest = client.get("/subjects/t-value/versions/latest").json()
    assert latest == {
        "subject": "t-value",
        "version": 1,
        "id": 1,
        "schema": parse_avro(V1).canonical,
    }
    assert client.get("/subjects/t-value/versions/1").json() == latest
    raw = client.get("/subjects/t-value/versions/1/schema")
    assert json.loads(raw.text) == json.loads(V1)
    assert client.get("/schemas/ids/1").json() == {"schema": parse_avro(V1).canonical}
    assert json.loads(client.get("/schemas/ids/1/schema").text) == json.loads(V1)
    assert client.get("/schemas/ids/1?subject=t-value&fetchMaxId=true").json()["maxId"] == 1
    assert client.get("/schemas/ids/1/versions").json() == [
        {"subject": "other-value", "version": 1},
        {"subject": "t-value", "version": 1},
    ]
    assert client.get("/schemas/ids/1/subjects").json() == ["other-value", "t-value"]
    found = post(client, "/subjects/t-value", {"schema": json.dumps(json.loads(V1), indent=3)})
    assert found.json() == latest


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/json; charset=utf-8",
    ],
)
def test_accepted_request_media_types(client: TestClient, content_type: str) -> None:
    response = post(
        client, "/subjects/t/versions", {"schema": V1}, **{"Content-Type": content_type}
    )
    assert response.status_code == 200


def test_other_media_types_and_bad_bodies(client: TestClient) -> None:
    assert_error(
        client.post(
            "/subjects/t/versions", content="schema=x", headers={"Content-Type": "text/plain"}
        ),
        415,
        415,
    )
    assert_error(client.post("/subjects/t/versions", content="{nope", headers=HEADERS), 400, 400)
    assert_error(post(client, "/subjects/t/versions", {"schema": "{nope"}), 422, 42201)
    assert_error(post(client, "/subjects/t/versions", {}), 422, 42201)


def test_unsupported_features_are_rejected_clearly(client: TestClient) -> None:
    json_schema = post(client, "/subjects/t/versions", {"schema": "{}", "schemaType": "JSON"})
    assert_error(json_schema, 422, 42201)
    assert "AVRO" in json_schema.json()["message"]
    refs = post(
        client,
        "/subjects/t/versions",
        {"schema": V1, "references": [{"name": "x", "subject": "y", "version": 1}]},
    )
    # A reference to a subject/version that does not exist is refused, naming it.
    assert_error(refs, 422, 42201)
    assert "'y' version 1" in refs.json()["message"]
    assert_error(post(client, "/subjects/t/versions", {"schema": V1, "id": 5}), 422, 42205)


def test_normalize_is_accepted(client: TestClient) -> None:
    response = post(
        client, "/subjects/t/versions?normalize=true", {"schema": V1, "schemaType": "AVRO"}
    )
    assert response.json() == {"id": 1}


# ------------------------------------------------------------------------ error codes


def test_not_found_codes(client: TestClient) -> None:
    register(client, "t", V1)
    assert_error(client.get("/subjects/nope/versions"), 404, 40401)
    assert_error(client.get("/subjects/nope/versions/1"), 404, 40401)
    assert_error(client.get("/subjects/t/versions/9"), 404, 40402)
    assert_error(client.get("/schemas/ids/99"), 404, 40403)
    assert_error(post(client, "/subjects/t", {"schema": V2}), 404, 40403)
    assert_error(post(client, "/subjects/nope", {"schema": V1}), 404, 40401)
    assert_error(client.get("/subjects/t/versions/zero"), 422, 42202)
    assert_error(client.get("/subjects/t/versions/0"), 422, 42202)
    assert_error(client.get("/no/such/path"), 404, 404)
    assert_error(client.patch("/subjects"), 405, 405)


# ------------------------------------------------------------------------ compatibility


def test_evolution_and_incompatible_change(client: TestClient) -> None:
    register(client, "t", V1)
    assert register(client, "t", V2) == 2
    rejected = post(client, "/subjects/t/versions", {"schema": BREAKING})
    assert_error(rejected, 409, 409)
    assert "incompatible" in rejected.json()["message"]
    assert client.get("/subjects/t/versions").json() == [1, 2]


def test_compatibility_endpoint(client: TestClient) -> None:
    register(client, "t", V1)
    ok = post(client, "/compatibility/subjects/t/versions/latest", {"schema": V2})
    assert ok.json() == {"is_compatible": True}
    bad = post(client, "/compatibility/subjects/t/versions/1?verbose=true", {"schema": BREAKING})
    assert bad.json()["is_compatible"] is False
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m for m in bad.json()["messages"])
    assert post(client, "/compatibility/subjects/t/versions", {"schema": V2}).json()[
        "is_compatible"
    ]
    assert_error(post(client, "/compatibility/subjects/t/versions/7", {"schema": V2}), 404, 40402)
    assert_error(
        post(client, "/compatibility/subjects/none/versions/1", {"schema": V2}), 404, 40402
    )
    fresh = post(client, "/compatibility/subjects/none/versions/latest", {"schema": V2})
    assert fresh.json() == {"is_compatible": True}


def test_config_endpoints(client: TestClient) -> None:
    assert client.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    put = client.put("/config", content=json.dumps({"compatibility": "full"}), headers=HEADERS)
    assert put.json() == {"compatibility": "FULL"}
    assert client.get("/config").json() == {"compatibilityLevel": "FULL"}
    assert_error(client.get("/config/t"), 404, 40408)
    assert client.get("/config/t?defaultToGlobal=true").json() == {"compatibilityLevel": "FULL"}
    assert client.put(
        "/config/t", content=json.dumps({"compatibility": "NONE"}), headers=HEADERS
    ).json() == {"compatibility": "NONE"}
    assert client.get("/config/t").json() == {"compatibilityLevel": "NONE"}
    register(client, "t", V1)
    assert register(client, "t", BREAKING) == 2  # NONE lets it through
    assert client.delete("/config/t").json() == {"compatibilityLevel": "NONE"}
    assert_error(client.delete("/config/t"), 404, 40401)  # what Confluent answers
    assert client.delete("/config").json() == {"compatibilityLevel": "FULL"}
    assert client.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    bad = client.put("/config", content=json.dumps({"compatibility": "SIDEWAYS"}), headers=HEADERS)
    assert_error(bad, 422, 42203)


def test_mode_is_readwrite_only(client: TestClient) -> None:
    assert client.get("/mode").json() == {"mode": "READWRITE"}
    assert client.put(
        "/mode", content=json.dumps({"mode": "READWRITE"}), headers=HEADERS
    ).json() == {"mode": "READWRITE"}
    assert_error(
        client.put("/mode", content=json.dumps({"mode": "IMPORT"}), headers=HEADERS), 422, 42204
    )


# ---------------------------------------------------------------------------- deletes


def test_version_deletes(client: TestClient) -> None:
    register(client, "t", V1)
    register(client, "t", V2)
    assert_error(client.delete("/subjects/t/versions/2?permanent=true"), 404, 40407)
    assert client.delete("/subjects/t/versions/2").json() == 2
    assert_error(client.delete("/subjects/t/versions/2"), 404, 40406)
    assert client.get("/subjects/t/versions").json() == [1]
    assert client.get("/subjects/t/versions?deleted=true").json() == [1, 2]
    assert_error(client.get("/subjects/t/versions/2"), 404, 40402)
    assert client.get("/subjects/t/versions/2?deleted=true").json()["id"] == 2
    assert client.get("/schemas/ids/2").status_code == 200  # readers of old data still decode
    assert client.get("/schemas/ids/2/versions").json() == []
    assert client.get("/schemas/ids/2/versions?deleted=true").json() == [
        {"subject": "t", "version": 2}
    ]
    assert client.delete("/subjects/t/versions/2?permanent=true").json() == 2
    assert_error(client.get("/schemas/ids/2"), 404, 40403)
    assert_error(client.delete("/subjects/t/versions/5"), 404, 40402)
    assert_error(client.delete("/subjects/nope/versions/1"), 404, 40401)


def test_subject_deletes(client: TestClient) -> None:
    register(client, "t", V1)
    register(client, "t", V2)
    assert_error(client.delete("/subjects/t?permanent=true"), 404, 40405)
    assert client.delete("/subjects/t").json() == [1, 2]
    assert client.get("/subjects").json() == []
    assert client.get("/subjects?deleted=true").json() == ["t"]
    assert client.get("/subjects?deleted_only=True").json() == ["t"]
    assert_error(client.get("/subjects/t/versions"), 404, 40401)
    assert post(client, "/subjects/t?deleted=true", {"schema": V1}).json()["version"] == 1
    assert_error(client.delete("/subjects/t"), 404, 40404)
    assert client.delete("/subjects/t?permanent=true").json() == [1, 2]
    assert client.get("/subjects?deleted=true").json() == []
    assert_error(client.delete("/subjects/t"), 404, 40401)


def test_subject_listing_options(client: TestClient) -> None:
    for name in ("b-value", "a-value", "a-key"):
        register(client, name, V1)
    assert client.get("/subjects").json() == ["a-key", "a-value", "b-value"]
    assert client.get("/subjects?subjectPrefix=a-").json() == ["a-key", "a-value"]
    assert client.get("/subjects?offset=1&limit=1").json() == ["a-value"]
    assert client.get("/subjects?deleted=False&deleted_only=False&offset=0&limit=-1").json() == [
        "a-key",
        "a-value",
        "b-value",
    ]


def test_metrics_are_exported(client: TestClient) -> None:
    register(client, "t", V1)
    client.get("/subjects/nope/versions")
    text = client.get("/metrics").text
    assert 'vidsight_registry_log_writes_total{record="SchemaRegistered"} 1.0' in text
    assert "vidsight_registry_subjects 1.0" in text
    assert "vidsight_registry_max_schema_id 1.0" in text
    assert 'vidsight_registry_http_responses_total{method="GET",status="404"} 1.0' in text


# --------------------------------------------------------------- durability and replay


def test_state_is_rebuilt_from_the_log() -> None:
    log = MemoryEventLog()
    with make_client(log) as first:
        register(first, "t", V1)
        register(first, "t", V2)
        register(first, "u", V2)
        first.put("/config/u", content=json.dumps({"compatibility": "NONE"}), headers=HEADERS)
        first.delete("/subjects/t/versions/1")
    with make_client(log) as second:
        assert second.get("/subjects").json() == ["t", "u"]
        assert second.get("/subjects/t/versions?deleted=true").json() == [1, 2]
        assert second.get("/subjects/u/versions/1").json()["id"] == 2
        assert second.get("/config/u").json() == {"compatibilityLevel": "NONE"}
        assert register(second, "v", BREAKING) == 3


class AmbiguousLog(MemoryEventLog):
    """Fails the next append after (``landed``) or before storing the record."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next: bool | None = None  # None: no failure, True: stored then fail

    def append(self, event: Event) -> int:
        landed, self.fail_next = self.fail_next, None
        if landed is None:
            return super().append(event)
        if landed:
            super().append(event)
        raise StoreTimeoutError("simulated: acknowledgement lost")


@pytest.mark.parametrize("landed", [True, False])
def test_failed_write_is_reconciled_with_the_log_before_the_next_one(landed: bool) -> None:
    log = AmbiguousLog()
    with make_client(log) as client:
        register(client, "t", V1)
        log.fail_next = landed
        assert_error(post(client, "/subjects/t/versions", {"schema": V2}), 500, 50002)
        # The next change first reads the log: a record that landed is applied, exactly once.
        third = json.dumps({**json.loads(V2), "doc": "third"})
        assert register(client, "t", third) == (3 if landed else 2)
        assert client.get("/subjects/t/versions").json() == ([1, 2, 3] if landed else [1, 2])
    records = [json.loads(value)["type"] for _, value in log.records]
    assert records.count("SchemaRegistered") == (3 if landed else 2)


def test_concurrent_registrations_get_distinct_ids() -> None:
    async def scenario() -> list[int]:
        service = RegistryService(MemoryEventLog())
        await service.start()
        schemas = [
            parse_avro(json.dumps({"type": "record", "name": f"R{i}", "fields": []}))
            for i in range(20)
        ]
        results = await asyncio.gather(
            *(service.register(f"s{i}", s) for i, s in enumerate(schemas))
        )
        return [r.schema_id for r in results]

    assert sorted(asyncio.run(scenario())) == list(range(1, 21))
