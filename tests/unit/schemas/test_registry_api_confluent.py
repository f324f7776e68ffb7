"""Behaviours Confluent's Schema Registry has that clients and tools rely on (issue 13):
subjects with ``/``, ``GET /schemas``, subject modes, content negotiation, verbose
compatibility on a broken schema, and Avro schema references. Same in-memory app as
test_registry_api.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from test_registry_api import BREAKING, HEADERS, V1, V2, assert_error, make_client, post, register

from schemas.registry.avro_schema import parse_avro
from schemas.registry.log import MemoryEventLog
from schemas.registry.negotiation import negotiate

SLASHED = "vidsight/cameras/gate.proto"  # path-like, as Protobuf reference subjects are
S = quote(SLASHED, safe="")  # what clients put in the URL: %2F for each /

SHARED = {
    "type": "record",
    "name": "Shared",
    "namespace": "com.x",
    "fields": [{"name": "a", "type": "string"}],
}
SHARED_V2 = {**SHARED, "fields": [*SHARED["fields"], {"name": "b", "type": "int", "default": 0}]}
TOP = {
    "type": "record",
    "name": "Top",
    "namespace": "com.y",
    "fields": [{"name": "s", "type": "com.x.Shared"}],
}
TOP_V2 = {**TOP, "fields": [*TOP["fields"], {"name": "n", "type": "long", "default": 0}]}
TOP_BREAKING = {**TOP, "fields": [*TOP["fields"], {"name": "z", "type": "long"}]}
REF = {"name": "com.x.Shared", "subject": "shared-value", "version": 1}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client() as c:
        yield c


def with_refs(client: TestClient, path: str, schema: dict[str, Any], *refs: dict[str, Any]) -> Any:
    return post(client, path, {"schema": json.dumps(schema), "references": list(refs)})


# ----------------------------------------------------------------- subjects containing "/"


def test_a_subject_with_slashes_works_through_every_subject_endpoint(client: TestClient) -> None:
    assert register(client, S, V1) == 1
    assert client.get("/subjects").json() == [SLASHED]
    assert client.get(f"/subjects/{S}/versions").json() == [1]
    latest = client.get(f"/subjects/{S}/versions/latest").json()
    assert (latest["subject"], latest["version"], latest["id"]) == (SLASHED, 1, 1)
    assert client.get(f"/subjects/{S}/versions/1").json() == latest
    assert json.loads(client.get(f"/subjects/{S}/versions/1/schema").text) == json.loads(V1)
    assert client.get(f"/subjects/{S}/versions/1/referencedby").json() == []
    assert post(client, f"/subjects/{S}", {"schema": V1}).json() == latest
    assert client.get("/schemas/ids/1/subjects").json() == [SLASHED]
    put = client.put(f"/config/{S}", content=json.dumps({"compatibility": "FULL"}), headers=HEADERS)
    assert put.json() == {"compatibility": "FULL"}
    assert client.get(f"/config/{S}").json() == {"compatibilityLevel": "FULL"}
    # FULL: a field added with a default passes; a field added without one does not.
    assert post(client, f"/compatibility/subjects/{S}/versions/latest", {"schema": V2}).json() == {
        "is_compatible": True
    }
    assert not post(client, f"/compatibility/subjects/{S}/versions", {"schema": BREAKING}).json()[
        "is_compatible"
    ]
    assert_error(post(client, f"/subjects/{S}/versions", {"schema": BREAKING}), 409, 409)
    assert client.delete(f"/config/{S}").json() == {"compatibilityLevel": "FULL"}
    mode = client.put(f"/mode/{S}", content=json.dumps({"mode": "READWRITE"}), headers=HEADERS)
    assert mode.json() == {"mode": "READWRITE"}
    assert client.get(f"/mode/{S}").json() == {"mode": "READWRITE"}
    assert register(client, S, V2) == 2
    assert client.delete(f"/subjects/{S}/versions/2").json() == 2
    assert client.delete(f"/subjects/{S}").json() == [1]
    assert client.delete(f"/subjects/{S}?permanent=true").json() == [1, 2]
    assert_error(client.get(f"/subjects/{S}/versions"), 404, 40401)  # Confluent's code, not 404


def test_encoded_characters_other_than_slash_are_decoded(client: TestClient) -> None:
    name = "caméra value?#%"
    assert register(client, quote(name, safe=""), V1) == 1
    assert client.get("/subjects").json() == [name]
    assert client.get(f"/subjects/{quote(name, safe='')}/versions").json() == [1]


def test_an_unencoded_slash_is_still_another_path(client: TestClient) -> None:
    register(client, S, V1)
    assert_error(client.get("/subjects/vidsight/cameras/gate.proto/versions"), 404, 404)


# ------------------------------------------------------------------------------ GET /schemas


def test_schemas_listing_and_its_filters(client: TestClient) -> None:
    register(client, "a-value", V1)
    register(client, "a-value", V2)
    register(client, "b-value", V1)
    client.delete("/subjects/a-value/versions/2")
    every = client.get("/schemas").json()
    assert [(s["subject"], s["version"], s["id"]) for s in every] == [
        ("a-value", 1, 1),
        ("b-value", 1, 1),
    ]
    assert every[0]["schema"] == parse_avro(V1).canonical
    with_deleted = client.get("/schemas?deleted=true").json()
    assert [(s["subject"], s["version"]) for s in with_deleted] == [
        ("a-value", 1),
        ("a-value", 2),
        ("b-value", 1),
    ]
    latest = client.get("/schemas?deleted=true&latestOnly=true").json()
    assert [(s["subject"], s["version"]) for s in latest] == [("a-value", 2), ("b-value", 1)]
    assert [s["subject"] for s in client.get("/schemas?subjectPrefix=b-").json()] == ["b-value"]
    paged = client.get("/schemas?deleted=true&offset=1&limit=1").json()
    assert [(s["subject"], s["version"]) for s in paged] == [("a-value", 2)]
    assert client.get("/schemas?subjectPrefix=zzz").json() == []
    assert_error(client.get("/schemas?limit=many"), 400, 400)


# ------------------------------------------------------------------------------------- mode


def test_subject_mode_is_40409_until_set(client: TestClient) -> None:
    register(client, "t", V1)
    assert_error(client.get("/mode/t"), 404, 40409)
    assert_error(client.get("/mode/unknown"), 404, 40409)
    assert client.get("/mode/t?defaultToGlobal=true").json() == {"mode": "READWRITE"}
    put = client.put("/mode/t", content=json.dumps({"mode": "READWRITE"}), headers=HEADERS)
    assert put.json() == {"mode": "READWRITE"}
    assert client.get("/mode/t").json() == {"mode": "READWRITE"}
    bad = client.put("/mode/t", content=json.dumps({"mode": "READONLY"}), headers=HEADERS)
    assert_error(bad, 422, 42204)
    assert client.delete("/mode/t").json() == {"mode": "READWRITE"}
    assert_error(client.get("/mode/t"), 404, 40409)
    assert_error(client.delete("/mode/t"), 404, 40401)


def test_subject_config_is_40408_until_set(client: TestClient) -> None:
    assert_error(client.get("/config/unknown"), 404, 40408)
    assert client.get("/config/unknown?defaultToGlobal=true").json() == {
        "compatibilityLevel": "BACKWARD"
    }


def test_subject_mode_survives_a_restart() -> None:
    log = MemoryEventLog()
    with make_client(log) as first:
        first.put("/mode/t", content=json.dumps({"mode": "READWRITE"}), headers=HEADERS)
    with make_client(log) as second:
        assert second.get("/mode/t").json() == {"mode": "READWRITE"}


# ------------------------------------------------------------------------ content negotiation


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/vnd.schemaregistry.v1+json"),
        ("*/*", "application/vnd.schemaregistry.v1+json"),
        ("application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry.v1+json"),
        ("application/vnd.schemaregistry+json", "application/vnd.schemaregistry+json"),
        ("application/json", "application/json"),
        ("application/*", "application/vnd.schemaregistry.v1+json"),
        # What confluent-kafka's client sends.
        (
            "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "
            "application/json",
            "application/vnd.schemaregistry.v1+json",
        ),
        ("application/json, */*;q=0.1", "application/json"),
        ("text/html, application/json;q=0.9", "application/json"),
        (
            "application/vnd.schemaregistry.v1+json;q=0.2, application/json;q=0.8",
            "application/json",
        ),
        ("application/json;q=0, */*", "application/vnd.schemaregistry.v1+json"),
    ],
)
def test_accept_picks_the_response_media_type(
    client: TestClient, accept: str | None, expected: str
) -> None:
    register(client, "t", V1)
    headers = {} if accept is None else {"Accept": accept}
    for response in (
        client.get("/subjects", headers=headers),
        client.get("/subjects/t/versions/1", headers=headers),
        client.get("/schemas/ids/1/schema", headers=headers),
        client.get("/subjects/nope/versions", headers=headers),  # errors too
    ):
        assert response.headers["content-type"] == expected
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    "accept", ["text/html", "text/html, application/xml;q=0.9", "application/json;q=0", "nonsense"]
)
def test_an_unacceptable_accept_is_406(client: TestClient, accept: str) -> None:
    response = client.get("/subjects", headers={"Accept": accept})
    assert_error(response, 406, 406)
    register_attempt = post(client, "/subjects/t/versions", {"schema": V1}, Accept=accept)
    assert register_attempt.status_code == 406
    assert client.get("/subjects").json() == []  # the refused write did nothing


def test_metrics_keep_their_own_format(client: TestClient) -> None:
    response = client.get("/metrics", headers={"Accept": "text/plain"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


# ----------------------------------------------------------------- verbose compatibility


def test_verbose_compatibility_of_an_unparsable_schema_is_a_false_answer(
    client: TestClient,
) -> None:
    register(client, "t", V1)
    for path in ("/compatibility/subjects/t/versions/1", "/compatibility/subjects/t/versions"):
        verbose = post(client, path + "?verbose=true", {"schema": "{not avro"})
        assert verbose.status_code == 200, verbose.text
        assert verbose.json()["is_compatible"] is False
        assert verbose.json()["messages"] and "Invalid schema" in verbose.json()["messages"][0]
        assert_error(post(client, path, {"schema": "{not avro"}), 422, 42201)
    unknown_type = {"type": "record", "name": "T", "fields": [{"name": "a", "type": "Nope"}]}
    verbose = post(
        client,
        "/compatibility/subjects/t/versions/latest?verbose=true",
        {"schema": json.dumps(unknown_type)},
    )
    assert verbose.json()["is_compatible"] is False


# ------------------------------------------------------------------------- schema references


def register_shared(client: TestClient) -> int:
    return register(client, "shared-value", json.dumps(SHARED))


def test_a_schema_with_references_is_registered_and_served_with_them(client: TestClient) -> None:
    shared_id = register_shared(client)
    created = with_refs(client, "/subjects/top-value/versions", TOP, REF)
    assert created.status_code == 200, created.text
    top_id = created.json()["id"]
    assert top_id != shared_id
    by_id = client.get(f"/schemas/ids/{top_id}").json()
    assert by_id["references"] == [REF]
    # The stored schema names the shared type; it does not copy it in.
    assert json.loads(by_id["schema"])["fields"][0]["type"] == "com.x.Shared"
    version = client.get("/subjects/top-value/versions/1").json()
    assert version["references"] == [REF] and version["id"] == top_id
    assert "references" not in client.get(f"/schemas/ids/{shared_id}").json()
    assert client.get("/subjects/shared-value/versions/1/referencedby").json() == [top_id]
    listed = client.get("/schemas?subjectPrefix=top").json()
    assert listed[0]["references"] == [REF]
    # Registering the same schema with the same references again is idempotent.
    assert with_refs(client, "/subjects/top-value/versions", TOP, REF).json() == {"id": top_id}


def test_references_must_name_existing_versions(client: TestClient) -> None:
    missing = with_refs(client, "/subjects/top-value/versions", TOP, REF)
    assert_error(missing, 422, 42201)
    assert "shared-value" in missing.json()["message"]
    register_shared(client)
    wrong_version = with_refs(client, "/subjects/top-value/versions", TOP, {**REF, "version": 7})
    assert_error(wrong_version, 422, 42201)
    # Without references the shared type is unknown: the schema does not parse.
    assert_error(
        post(client, "/subjects/top-value/versions", {"schema": json.dumps(TOP)}), 422, 42201
    )
    for bad in ([{"name": "x"}], {"name": "x"}, [{"name": "x", "subject": "s", "version": "1"}]):
        malformed = post(
            client, "/subjects/top-value/versions", {"schema": json.dumps(TOP), "references": bad}
        )
        assert_error(malformed, 422, 42201)
    assert client.get("/subjects").json() == ["shared-value"]


def test_latest_reference_is_pinned_to_a_version(client: TestClient) -> None:
    register_shared(client)
    register(client, "shared-value", json.dumps(SHARED_V2))
    created = with_refs(client, "/subjects/top-value/versions", TOP, {**REF, "version": -1})
    top_id = created.json()["id"]
    assert client.get(f"/schemas/ids/{top_id}").json()["references"] == [{**REF, "version": 2}]


def test_referenced_versions_cannot_be_deleted(client: TestClient) -> None:
    register_shared(client)
    top_id = with_refs(client, "/subjects/top-value/versions", TOP, REF).json()["id"]
    assert_error(client.delete("/subjects/shared-value/versions/1"), 422, 42206)
    assert_error(client.delete("/subjects/shared-value/versions/latest"), 422, 42206)
    refused = client.delete("/subjects/shared-value")
    assert_error(refused, 422, 42206)
    assert str(top_id) in refused.json()["message"]
    assert client.get("/subjects/shared-value/versions").json() == [1]
    # A soft-deleted referrer still needs its types: only once it is gone for good may they go.
    assert client.delete("/subjects/top-value").json() == [1]
    assert_error(client.delete("/subjects/shared-value"), 422, 42206)
    assert client.delete("/subjects/top-value?permanent=true").json() == [1]
    assert client.get("/subjects/shared-value/versions/1/referencedby").json() == []
    assert client.delete("/subjects/shared-value").json() == [1]


def test_lookup_honours_references(client: TestClient) -> None:
    register_shared(client)
    top_id = with_refs(client, "/subjects/top-value/versions", TOP, REF).json()["id"]
    found = with_refs(client, "/subjects/top-value", TOP, REF)
    assert found.status_code == 200, found.text
    assert (found.json()["id"], found.json()["references"]) == (top_id, [REF])
    assert_error(post(client, "/subjects/top-value", {"schema": json.dumps(TOP)}), 422, 42201)


def test_same_text_with_other_references_is_another_schema(client: TestClient) -> None:
    register_shared(client)
    register(client, "shared-copy", json.dumps(SHARED))
    first = with_refs(client, "/subjects/top-value/versions", TOP, REF).json()["id"]
    other = {**REF, "subject": "shared-copy"}
    second = with_refs(client, "/subjects/top-other/versions", TOP, other).json()["id"]
    assert first != second
    assert_error(with_refs(client, "/subjects/top-value", TOP, other), 404, 40403)


def test_compatibility_resolves_references(client: TestClient) -> None:
    register_shared(client)
    with_refs(client, "/subjects/top-value/versions", TOP, REF)
    ok = with_refs(client, "/compatibility/subjects/top-value/versions/latest", TOP_V2, REF)
    assert ok.json() == {"is_compatible": True}
    bad = with_refs(
        client, "/compatibility/subjects/top-value/versions/1?verbose=true", TOP_BREAKING, REF
    )
    assert bad.json()["is_compatible"] is False
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m for m in bad.json()["messages"])
    assert with_refs(client, "/subjects/top-value/versions", TOP_V2, REF).status_code == 200
    assert_error(with_refs(client, "/subjects/top-value/versions", TOP_BREAKING, REF), 409, 409)
    # A change inside the referenced type is checked too: v2 of Shared adds a field with a
    # default, and a Top that reads it through the new reference is BACKWARD compatible.
    register(client, "shared-value", json.dumps(SHARED_V2))
    newer = with_refs(client, "/subjects/top-value/versions", TOP_V2, {**REF, "version": 2})
    assert newer.status_code == 200, newer.text
    assert client.get("/subjects/top-value/versions").json() == [1, 2, 3]
    # A Shared that gained a field without a default (allowed in its own subject by NONE)
    # breaks the Tops that read it: the check looks inside the referenced type.
    client.put(
        "/config/shared-value", content=json.dumps({"compatibility": "NONE"}), headers=HEADERS
    )
    shared_breaking = {**SHARED, "fields": [*SHARED["fields"], {"name": "c", "type": "int"}]}
    register(client, "shared-value", json.dumps(shared_breaking))
    broken = with_refs(client, "/subjects/top-value/versions", TOP_V2, {**REF, "version": 3})
    assert_error(broken, 409, 409)
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in broken.json()["message"]


def test_references_survive_a_restart() -> None:
    log = MemoryEventLog()
    with make_client(log) as first:
        register_shared(first)
        top_id = with_refs(first, "/subjects/top-value/versions", TOP, REF).json()["id"]
    with make_client(log) as second:
        assert second.get(f"/schemas/ids/{top_id}").json()["references"] == [REF]
        assert second.get("/subjects/shared-value/versions/1/referencedby").json() == [top_id]
        assert_error(second.delete("/subjects/shared-value/versions/1"), 422, 42206)
        ok = with_refs(second, "/compatibility/subjects/top-value/versions/1", TOP_V2, REF)
        assert ok.json() == {"is_compatible": True}
