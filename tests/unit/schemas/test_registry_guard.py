"""The registry's front door, attack by attack: each one is performed against the real app
(the factory's middleware stack over an in-memory log) and must be refused.

The same attacks against the registry process over TCP, with its memory measured, are in
tests/integration/test_registry_security.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from starlette.testclient import TestClient
from starlette.types import Message

from schemas.registry.app import create_app
from schemas.registry.guard import (
    MEDIA_TYPE,
    GuardPolicy,
    RequestGuard,
    authorized,
    host_name,
    media_type_ok,
    origin_ok,
)
from schemas.registry.limits import MAX_JSON_DEPTH, json_depth
from schemas.registry.log import MemoryEventLog
from schemas.registry.settings import RegistrySettings

BASE_URL = "http://127.0.0.1:8081"
USER, PASSWORD = "registry-admin", "s3cret-Pa55"
V1 = json.dumps({"type": "record", "name": "T", "fields": [{"name": "a", "type": "string"}]})
JSON = {"Content-Type": MEDIA_TYPE}
SMALL_CAP = 64 * 1024


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic(USER, PASSWORD)


def make_client(**settings: Any) -> TestClient:
    app = create_app(RegistrySettings(**settings), event_log=MemoryEventLog())
    return TestClient(app, base_url=BASE_URL)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client(registry_max_body_bytes=SMALL_CAP) as c:
        yield c


@pytest.fixture
def roomy() -> Iterator[TestClient]:
    """The default body cap, for bodies that must get past it to reach the parser."""
    with make_client() as c:
        yield c


@pytest.fixture
def secured() -> Iterator[TestClient]:
    with make_client(registry_user=USER, registry_password=SecretStr(PASSWORD)) as c:
        yield c


def assert_refused(response: Any, status: int, code: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert body["error_code"] == code
    for word in words:
        assert word in body["message"]


def nested_schema(levels: int) -> str:
    """An array of arrays ... of strings: one JSON level per Avro level (built as text:
    ``json.dumps`` itself recurses per level)."""
    return '{"type": "array", "items": ' * levels + '"string"' + "}" * levels


def nested_records(levels: int) -> str:
    """Records nested through nullable fields, the shape real deep schemas have (4 JSON levels
    per record)."""
    opening = "".join(
        f'{{"type": "record", "name": "R{i}", "fields": '
        '[{"name": "f", "default": null, "type": ["null", '
        for i in range(levels)
    )
    return opening + '"string"' + "]}]}" * levels


# ------------------------------------------------------------------------ basic authentication


def test_unauthenticated_writes_are_refused_and_change_nothing(secured: TestClient) -> None:
    created = secured.post("/subjects/t/versions", json={"schema": V1}, headers={**JSON, **AUTH})
    assert created.status_code == 200
    attacks = [
        secured.put("/config/t", json={"compatibility": "NONE"}, headers=JSON),
        secured.put("/config", json={"compatibility": "NONE"}, headers=JSON),
        secured.delete("/subjects/t"),
        secured.delete("/subjects/t?permanent=true"),
        secured.post("/subjects/u/versions", json={"schema": V1}, headers=JSON),
        secured.get("/subjects"),
        secured.get("/schemas/ids/1"),
        secured.get("/metrics"),
    ]
    for response in attacks:
        assert_refused(response, 401, 40101, "Unauthorized")
        assert response.headers["www-authenticate"].startswith('Basic realm="vidsight-registry"')
    assert secured.get("/config", headers=AUTH).json() == {"compatibilityLevel": "BACKWARD"}
    assert secured.get("/subjects", headers=AUTH).json() == ["t"]


@pytest.mark.parametrize(
    "headers",
    [
        basic(USER, "wrong"),
        basic(USER, PASSWORD + "x"),
        basic(USER, PASSWORD[:-1]),
        basic("other", PASSWORD),
        basic("", ""),
        {"Authorization": f"Bearer {PASSWORD}"},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic"},
    ],
)
def test_wrong_credentials_are_refused(secured: TestClient, headers: dict[str, str]) -> None:
    response = secured.put("/config", json={"compatibility": "NONE"}, headers={**JSON, **headers})
    assert_refused(response, 401, 40101)
    assert secured.get("/config", headers=AUTH).json() == {"compatibilityLevel": "BACKWARD"}


def test_the_right_credentials_open_every_route(secured: TestClient) -> None:
    put = secured.put("/config/t", json={"compatibility": "NONE"}, headers={**JSON, **AUTH})
    assert put.json() == {"compatibility": "NONE"}
    assert secured.get("/config/t", headers=AUTH).json() == {"compatibilityLevel": "NONE"}
    assert secured.get("/metrics", headers=AUTH).status_code == 200


def test_health_answers_without_credentials_and_says_nothing_else(secured: TestClient) -> None:
    response = secured.get("/_health")
    assert response.status_code == 200
    assert response.json() == {"status": "UP"}


def test_auth_is_off_without_a_user(client: TestClient) -> None:
    assert client.get("/subjects").status_code == 200


def test_a_user_without_a_password_is_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="registry_password is empty"):
        RegistrySettings(registry_user=USER)


def test_policy_keeps_only_a_digest_of_the_credentials() -> None:
    policy = GuardPolicy.create(
        listen_host="127.0.0.1", max_body_bytes=1024, user=USER, password=PASSWORD
    )
    assert PASSWORD not in repr(policy)
    assert policy.credentials is not None and PASSWORD.encode() not in policy.credentials
    assert authorized(AUTH["Authorization"], policy.credentials)
    assert not authorized(None, policy.credentials)


# ------------------------------------------------------------------------------ content types


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_writes_without_a_json_content_type_are_refused(
    client: TestClient, content_type: str | None
) -> None:
    # What a browser sends cross-site without a CORS preflight.
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = json.dumps({"compatibility": "NONE"})
    assert_refused(client.put("/config", content=body, headers=headers), 415, 415)
    register = json.dumps({"schema": V1})
    assert_refused(client.post("/subjects/t/versions", content=register, headers=headers), 415, 415)
    assert client.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    assert client.get("/subjects").json() == []


def test_media_types() -> None:
    assert media_type_ok(MEDIA_TYPE)
    assert media_type_ok("application/vnd.schemaregistry+json")
    assert media_type_ok("Application/JSON; charset=UTF-8")
    assert not media_type_ok("application/json; charset=latin-1")
    assert not media_type_ok("application/octet-stream")
    assert not media_type_ok("text/plain;application/json")
    assert not media_type_ok("")
    assert not media_type_ok(None)


# ---------------------------------------------------------------------------------- body size


def test_a_body_over_the_cap_is_refused_by_its_content_length(client: TestClient) -> None:
    body = json.dumps({"schema": V1, "pad": "x" * SMALL_CAP})
    response = client.post("/subjects/t/versions", content=body, headers=JSON)
    assert_refused(response, 413, 413, str(SMALL_CAP), "registry_max_body_bytes")
    assert response.headers["connection"] == "close"
    assert client.get("/subjects").json() == []


def test_a_chunked_body_over_the_cap_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"schema": "'
        for _ in range(8):
            yield b"x" * (SMALL_CAP // 4)
        yield b'"}'

    response = client.post("/subjects/t/versions", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert_refused(response, 413, 413)


def test_the_guard_stops_reading_at_the_cap() -> None:
    """An endless body: the guard pulls just past the cap, answers 413, and reads no more."""
    policy = GuardPolicy.create(listen_host="127.0.0.1", max_body_bytes=SMALL_CAP)
    reached_app = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal reached_app
        reached_app = True

    chunk = b"x" * 4096
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/subjects/t/versions",
        "scheme": "http",
        "headers": [
            (b"host", b"127.0.0.1:8081"),
            (b"content-type", MEDIA_TYPE.encode()),
            (b"transfer-encoding", b"chunked"),
        ],
    }
    asyncio.run(RequestGuard(app, policy)(scope, receive, send))
    assert not reached_app
    assert sent[0]["status"] == 413
    assert SMALL_CAP < pulled <= SMALL_CAP + len(chunk)


def test_a_body_under_the_cap_still_works(client: TestClient) -> None:
    response = client.post("/subjects/t/versions", json={"schema": V1}, headers=JSON)
    assert response.json() == {"id": 1}


# ----------------------------------------------------------------------------------- nesting


def test_a_deeply_nested_request_body_is_refused(roomy: TestClient) -> None:
    body = "[" * 10_000 + "]" * 10_000
    response = roomy.post("/subjects/t/versions", content=body, headers=JSON)
    assert_refused(response, 422, 42201, "10000 levels", f"limit is {MAX_JSON_DEPTH}")


def test_a_deeply_nested_schema_is_refused_everywhere(roomy: TestClient) -> None:
    deep = nested_schema(3_000)
    for path in ("/subjects/t/versions", "/subjects/t", "/compatibility/subjects/t/versions"):
        response = roomy.post(path, json={"schema": deep}, headers=JSON)
        assert_refused(response, 422, 42201, "Invalid schema", f"limit is {MAX_JSON_DEPTH}")
    records = nested_records(1_000)
    response = roomy.post("/subjects/t/versions", json={"schema": records}, headers=JSON)
    assert_refused(response, 422, 42201, "Invalid schema", f"limit is {MAX_JSON_DEPTH}")


def test_deep_but_real_schemas_still_register(roomy: TestClient) -> None:
    for subject, schema in (
        ("arrays", nested_schema(MAX_JSON_DEPTH)),
        ("records", nested_records(24)),
    ):
        response = roomy.post(
            f"/subjects/{subject}/versions", json={"schema": schema}, headers=JSON
        )
        assert response.status_code == 200, response.text
        # ...and the compatibility check of a next version walks the same depth.
        check = roomy.post(
            f"/compatibility/subjects/{subject}/versions/latest",
            json={"schema": schema},
            headers=JSON,
        )
        assert check.json() == {"is_compatible": True}


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a'), inner, max_size=3)
    ),
    max_leaves=30,
)


@given(_json)
def test_json_depth_matches_the_parsed_document(value: Any) -> None:
    # Strings full of brackets, quotes and backslashes must not count.
    assert json_depth(json.dumps(value)) == _depth(value)
    assert json_depth(json.dumps(value, indent=2)) == _depth(value)


# ------------------------------------------------------------------------------ Host and Origin


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8081", "10.0.0.1:8081", ""])
def test_a_foreign_host_is_refused(client: TestClient, host: str) -> None:
    # DNS rebinding: the attacker's name resolves to 127.0.0.1, the Host header stays theirs.
    response = client.put("/config", json={"compatibility": "NONE"}, headers={**JSON, "Host": host})
    assert_refused(response, 400, 400, "registry_allowed_hosts")
    assert_refused(client.get("/subjects", headers={"Host": host}), 400, 400)
    assert client.get("/config").json() == {"compatibilityLevel": "BACKWARD"}


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8081", "127.0.0.1", "[::1]:8081", "[::1]"]
)
def test_loopback_names_are_accepted(client: TestClient, host: str) -> None:
    assert client.get("/subjects", headers={"Host": host}).status_code == 200


def test_configured_hosts_are_accepted() -> None:
    with make_client(
        registry_host="0.0.0.0",
        registry_url="http://registry.internal:8081",
        registry_allowed_hosts=("schemas.example.com",),
    ) as c:
        for host in ("registry.internal:8081", "schemas.example.com", "SCHEMAS.example.com."):
            assert c.get("/subjects", headers={"Host": host}).status_code == 200, host
        # 0.0.0.0 is where it listens, not a name anyone reaches it under.
        assert c.get("/subjects", headers={"Host": "0.0.0.0:8081"}).status_code == 400


@pytest.mark.parametrize(
    "origin", ["https://attacker.example", "http://127.0.0.1:8088", "http://localhost:8081", "null"]
)
def test_a_foreign_origin_is_refused(client: TestClient, origin: str) -> None:
    response = client.put(
        "/config", json={"compatibility": "NONE"}, headers={**JSON, "Origin": origin}
    )
    assert_refused(response, 403, 40301, "Origin")
    assert client.get("/config").json() == {"compatibilityLevel": "BACKWARD"}


def test_the_registry_s_own_origin_is_accepted(client: TestClient) -> None:
    response = client.get("/subjects", headers={"Origin": BASE_URL})
    assert response.status_code == 200


def test_host_names() -> None:
    assert host_name("LocalHost:8081") == "localhost"
    assert host_name("[::1]:8081") == "::1"
    assert host_name("::1") == "::1"
    assert host_name("example.com.") == "example.com"
    assert host_name("[broken") == ""
    assert origin_ok(None, "127.0.0.1:8081", "http")
    assert origin_ok("http://127.0.0.1:8081", "127.0.0.1:8081", "http")
    assert not origin_ok("https://127.0.0.1:8081", "127.0.0.1:8081", "http")
