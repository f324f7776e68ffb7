"""The console's JSON API against the real stack: every endpoint, bad input (422 with field
paths), missing auth (401), CSRF and foreign Host/Origin refused, evidence path tricks refused."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import console_support as cs
import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from schemas.registration import register_all
from schemas.serde import Serde
from vidsight.console import ConsoleSettings, create_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def console(catalog_topics: Any) -> Iterator[tuple[Any, str]]:
    register_all(catalog_topics.endpoints)
    cs.ensure_schema(catalog_topics)
    with cs.serve(cs.console_settings(catalog_topics)) as base:
        yield catalog_topics, base


@pytest.fixture(scope="module")
def client(console: tuple[Any, str]) -> Iterator[httpx.Client]:
    c = cs.login(console[1])
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def serde(console: tuple[Any, str]) -> Serde:
    return Serde.for_registry(console[0].endpoints)


def _tag() -> str:
    return f"cam-{uuid.uuid4().hex[:8]}"


# ---- access --------------------------------------------------------------------------------


def test_every_route_needs_a_login(console: tuple[Any, str]) -> None:
    base = console[1]
    anon = httpx.Client(base_url=base)
    for path in ("/api/alerts", "/api/cameras", "/api/sensors", "/api/sensors/x",
                 f"/api/alerts/{uuid.uuid4()}", "/api/session", "/api/openapi.json",
                 "/events", "/evidence?uri=s3://vidsight/evidence/a/b.jpg"):  # fmt: skip
        assert anon.get(path).status_code == 401, path
    for path in ("/", "/cameras", "/editor", f"/alerts/{uuid.uuid4()}"):
        resp = anon.get(path)
        assert resp.status_code == 303 and resp.headers["location"] == "/login", path
    body = {"alert_id": str(uuid.uuid4()), "action": "confirm"}
    assert anon.post("/api/feedback", json=body).status_code == 401
    assert anon.put("/api/sensors/x", json={}).status_code == 401
    assert anon.get("/healthz").status_code == 200
    # a forged cookie is no session
    anon.cookies.set("vidsight_session", "operator.9999999999.abc.forged")
    assert anon.get("/api/alerts").status_code == 401


def test_login_refusals(console: tuple[Any, str]) -> None:
    base = console[1]
    c = httpx.Client(base_url=base)
    page = c.get("/login")
    assert "console_password" in page.text and cs.PASSWORD not in page.text
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    wrong = c.post("/login", data={"csrf": token, "user": "operator", "password": "nope"})
    assert wrong.status_code == 401 and "vidsight_session" not in wrong.headers.get(
        "set-cookie", ""
    )
    token = wrong.text.split('name="csrf" value="')[1].split('"')[0]  # each form has its own
    nobody = c.post("/login", data={"csrf": token, "user": "ghost", "password": cs.PASSWORD})
    assert nobody.status_code == 401
    # login CSRF: a form posted without the double-submit cookie (another site's form)
    fresh = httpx.Client(base_url=base)
    forged = fresh.post("/login", data={"csrf": "x", "user": "operator", "password": cs.PASSWORD})
    assert forged.status_code == 403
    assert "vidsight_session" not in forged.headers.get("set-cookie", "")


def test_session_cookie_flags(console: tuple[Any, str]) -> None:
    c = httpx.Client(base_url=console[1])
    token = c.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    resp = c.post("/login", data={"csrf": token, "user": "operator", "password": cs.PASSWORD})
    cookie = [h for h in resp.headers.get_list("set-cookie") if h.startswith("vidsight_session=")]
    assert cookie and "HttpOnly" in cookie[0] and "SameSite=strict" in cookie[0]


def test_csrf_and_origin_and_host(client: httpx.Client, console: tuple[Any, str]) -> None:
    body = {"alert_id": str(uuid.uuid4()), "action": "confirm"}
    token = client.headers.pop("X-CSRF-Token")
    try:
        assert client.post("/api/feedback", json=body).status_code == 403
        bad = client.post("/api/feedback", json=body, headers={"X-CSRF-Token": "x" * 43})
        assert bad.status_code == 403
        foreign = client.post(
            "/api/feedback", json=body,
            headers={"X-CSRF-Token": token, "Origin": "http://evil.example"},
        )  # fmt: skip
        assert foreign.status_code == 403
        rebinding = client.get("/api/alerts", headers={"Host": "evil.example:8088"})
        assert rebinding.status_code == 400
        own = client.post("/api/feedback", json=body,
                          headers={"X-CSRF-Token": token, "Origin": console[1]})  # fmt: skip
        assert own.status_code == 404  # got through: the alert does not exist
    finally:
        client.headers["X-CSRF-Token"] = token


def test_non_loopback_bind_requires_login_too() -> None:
    settings = ConsoleSettings(
        host="0.0.0.0", allowed_hosts=("console.example",),
        console_password=SecretStr(cs.PASSWORD), console_session_secret=SecretStr(cs.SESSION_KEY),
    )  # fmt: skip
    app = create_app(settings, feed=False)
    with TestClient(app, base_url="http://console.example") as c:
        assert c.get("/api/alerts").status_code == 401
        assert c.post("/api/feedback", json={}).status_code == 401
        assert c.get("/", follow_redirects=False).status_code == 303
    with TestClient(app, base_url="http://other.example") as c:
        assert c.get("/login").status_code == 400


def test_body_cap(client: httpx.Client) -> None:
    big = {"alert_id": str(uuid.uuid4()), "action": "confirm", "note": "x" * 300_000}
    assert client.post("/api/feedback", json=big).status_code == 413


# ---- alerts --------------------------------------------------------------------------------


def test_alert_list_filters_and_cursor(client: httpx.Client, console: tuple[Any, str]) -> None:
    stack = console[0]
    cam = _tag()
    t0 = 1_760_000_000_000_000
    alerts = [
        cs.make_alert(cam, "s-a", start_us=t0, rule="tripwire", severity="high"),
        cs.make_alert(cam, "s-b", start_us=t0 + 1_000_000, rule="zone", lifecycle="end"),
        cs.make_alert(
            cam, "s-a", start_us=t0 + 2_000_000, rule="tripwire", lifecycle="update", revision=1
        ),
    ]
    for a in alerts:
        cs.insert_alert(stack, a)
    cs.insert_verdict(stack, alerts[0], "false_positive")

    def ids(**params: str) -> list[str]:
        resp = client.get("/api/alerts", params={"camera": cam, **params})
        assert resp.status_code == 200, resp.text
        return [a["alert_id"] for a in resp.json()["alerts"]]

    newest_first = [a.alert_id for a in reversed(alerts)]
    assert ids() == newest_first
    assert ids(sensor="s-b") == [alerts[1].alert_id]
    assert ids(rule="zone") == [alerts[1].alert_id]
    assert ids(severity="high") == [alerts[0].alert_id]
    assert ids(lifecycle="update") == [alerts[2].alert_id]
    assert ids(review="false_positive") == [alerts[0].alert_id]
    assert ids(review="unreviewed") == [alerts[2].alert_id, alerts[1].alert_id]
    paged, cursor = [], None
    while True:
        params = {"camera": cam, "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/alerts", params=params).json()
        paged += [a["alert_id"] for a in page["alerts"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == newest_first
    row = client.get("/api/alerts", params={"camera": cam, "sensor": "s-a"}).json()["alerts"][-1]
    assert row["review"] == "false_positive" and row["bbox"] == {
        "x1": 0.4, "y1": 0.3, "x2": 0.5, "y2": 0.7}  # fmt: skip


def test_alert_list_bad_input(client: httpx.Client) -> None:
    resp = client.get("/api/alerts", params={"rule": "bogus", "limit": "9999", "camera": "a b",
                                             "cursor": "x", "colour": "red"})  # fmt: skip
    assert resp.status_code == 422
    locs = {tuple(e["loc"]) for e in resp.json()["detail"]}
    assert locs == {("query", "rule"), ("query", "limit"), ("query", "camera"),
                    ("query", "cursor"), ("query", "colour")}  # fmt: skip


def test_one_alert_with_revisions(client: httpx.Client, console: tuple[Any, str],
                                  serde: Serde) -> None:  # fmt: skip
    stack = console[0]
    cam = _tag()
    first = cs.make_alert(cam)
    cs.produce_alert(stack, serde, first)
    update = cs.make_alert(cam, start_us=first.start_ts, lifecycle="update", revision=1)
    cs.produce_alert(stack, serde, update)
    cs.insert_alert(stack, update)
    deadline = time.monotonic() + 15
    while True:
        body = client.get(f"/api/alerts/{first.alert_id}").json()
        if len(body["revisions"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert body["alert"]["alert_id"] == first.alert_id
    assert [r["revision"] for r in body["revisions"]] == [0, 1]
    assert [r["lifecycle"] for r in body["revisions"]] == ["new", "update"]
    assert client.get(f"/api/alerts/{uuid.uuid4()}").status_code == 404
    bad = client.get("/api/alerts/not-a-uuid")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "alert_id"]


# ---- feedback ------------------------------------------------------------------------------


def test_feedback_published_with_operator_and_pushed_back(
    client: httpx.Client, console: tuple[Any, str], serde: Serde
) -> None:
    stack = console[0]
    a = cs.make_alert(_tag())
    cs.insert_alert(stack, a)
    with client.stream("GET", "/events") as events:
        resp = client.post("/api/feedback", json={
            "alert_id": a.alert_id, "action": "false_positive", "reason": "lighting",
            "note": "lamp flicker"})  # fmt: skip
        assert resp.status_code == 202, resp.text
        fid = resp.json()["feedback"]["feedback_id"]
        for line in events.iter_lines():
            if line.startswith("data: ") and fid in line:
                pushed = json.loads(line[6:])
                break
    assert pushed["type"] == "feedback" and pushed["feedback"]["operator"] == "operator"
    record = cs.feedback_on_topic(stack, serde, fid)
    assert record.operator == "operator" and record.verdict.value == "false_positive"
    assert record.note == "reason: lighting; note: lamp flicker"
    assert record.camera_id == a.camera_id and record.label == "person" and record.boxes


def test_feedback_bad_input(client: httpx.Client) -> None:
    resp = client.post("/api/feedback", json={"alert_id": "x", "action": "delete",
                                              "note": 5, "extra": 1})  # fmt: skip
    assert resp.status_code == 422
    locs = {tuple(e["loc"]) for e in resp.json()["detail"]}
    assert locs == {("body", "alert_id"), ("body", "action"), ("body", "note"), ("body", "extra")}
    text = client.post("/api/feedback", content=b"alert_id=x",
                       headers={"content-type": "text/plain"})  # fmt: skip
    assert text.status_code == 422 and text.json()["detail"][0]["loc"] == ["header", "content-type"]
    gone = client.post("/api/feedback", json={"alert_id": str(uuid.uuid4()), "action": "reopen"})
    assert gone.status_code == 404


# ---- cameras and sensors -------------------------------------------------------------------


def test_cameras_without_read_models(client: httpx.Client, console: tuple[Any, str]) -> None:
    stack = console[0]
    cam = _tag()
    a = cs.make_alert(cam, evidence_uri=cs.upload_evidence(stack, cam))
    cs.insert_alert(stack, a)
    body = client.get("/api/cameras").json()
    assert body["readmodels"] == "read models not running"
    card = next(c for c in body["cameras"] if c["camera_id"] == cam)
    assert card["latest_evidence"] == a.evidence_uri
    assert [x["alert_id"] for x in card["open_alerts"]] == [a.alert_id]


def test_sensor_put_get_validation_and_move(client: httpx.Client) -> None:
    cam, other = _tag(), _tag()
    sid = f"line-{uuid.uuid4().hex[:6]}"
    line = {"camera": cam, "kind": "tripwire", "points": [[0.5, 0.1], [0.5, 0.9]],
            "direction": "a_to_b"}  # fmt: skip
    dry = client.put(f"/api/sensors/{sid}", params={"dry_run": "true"}, json=line)
    assert dry.status_code == 200 and dry.json()["published"] is False
    saved = client.put(f"/api/sensors/{sid}", json=line)
    assert saved.status_code == 200 and saved.json()["action"] == "create"
    got = client.get(f"/api/sensors/{sid}").json()["sensor"]
    assert got["points"] == [[0.5, 0.1], [0.5, 0.9]] and got["direction"] == "a_to_b"
    listed = client.get("/api/sensors", params={"camera": cam}).json()["sensors"]
    assert [s["id"] for s in listed] == [sid]
    bad = client.put(f"/api/sensors/{sid}", json={**line, "points": [[0.1, 0.1]] * 3})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "points"]
    wrong = client.put(f"/api/sensors/{sid}", json={**line, "kind": "portal", "id": "other"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "id"]
    unknown = client.put(f"/api/sensors/{sid}", json={**line, "colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "colour"]
    moved = client.put(f"/api/sensors/{sid}", json={**line, "camera": other})
    assert moved.status_code == 409 and "allow_move" in moved.json()["error"]
    allowed = client.put(f"/api/sensors/{sid}", params={"allow_move": "true"},
                         json={**line, "camera": other})  # fmt: skip
    assert allowed.status_code == 200 and allowed.json()["action"] == "move"
    assert client.get("/api/sensors/no such").status_code == 422
    assert client.get(f"/api/sensors/{uuid.uuid4().hex}").status_code == 404
    assert client.get("/api/sensors", params={"camera": "../x"}).status_code == 422


def test_backtest_of_a_candidate(client: httpx.Client) -> None:
    sid = f"bt-{uuid.uuid4().hex[:6]}"
    body = {"camera": _tag(), "kind": "tripwire", "points": [[0.5, 0], [0.5, 1]]}
    resp = client.post(f"/api/sensors/{sid}/backtest", json=body)
    assert resp.status_code == 200, resp.text
    assert [s["sensor_id"] for s in resp.json()["report"]["sensors"]] == [sid]
    bad = client.post(f"/api/sensors/{sid}/backtest", json={**body, "points": []})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "points"]


# ---- evidence and the rest -----------------------------------------------------------------


def test_evidence_served_and_tricks_refused(client: httpx.Client, console: tuple[Any, str]) -> None:
    stack = console[0]
    uri = cs.upload_evidence(stack, _tag())
    resp = client.get("/evidence", params={"uri": uri})
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    assert resp.content.startswith(b"\xff\xd8")
    secret = stack.endpoints.s3_secret_key.get_secret_value()
    assert secret not in str(resp.headers)
    bucket = stack.endpoints.s3_bucket
    key = uri.split(f"s3://{bucket}/", 1)[1]
    for trick in (
        f"s3://other-bucket/{key}",
        f"s3://{bucket}/archive/vidsight.alerts/0.avro",
        f"s3://{bucket}/evidence/../archive/x.jpg",
        f"s3://{bucket}/evidence/%2e%2e/archive/x.jpg",
        f"s3://{bucket}//evidence/a.jpg",
        f"s3://{bucket}/evidence/a/b.avro",
        f"s3://{bucket}/evidence/a\\..\\b.jpg",
        f"s3://{bucket}.evil/evidence/a.jpg",
        f"http://{bucket}/evidence/a.jpg",
        "s3://" + bucket + "/evidence/" + "a" * 600 + ".jpg",
        "",
    ):
        refused = client.get("/evidence", params={"uri": trick})
        assert refused.status_code == 422, trick
        assert refused.json()["detail"][0]["loc"] == ["query", "uri"]
    missing = client.get("/evidence", params={"uri": f"s3://{bucket}/evidence/nope/1.jpg"})
    assert missing.status_code == 404


def test_openapi_and_session_and_pages(client: httpx.Client, console: tuple[Any, str]) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/api/alerts" in spec["paths"]
    assert set(spec["paths"]["/api/sensors/{sensor_id}"]) == {"get", "put"}
    for path in ("/", "/cameras", "/editor", f"/alerts/{uuid.uuid4()}"):
        page = client.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert cs.PASSWORD not in page.text and cs.SESSION_KEY not in page.text
        stack = console[0]
        for secret in (stack.endpoints.s3_secret_key, stack.endpoints.clickhouse_password):
            assert secret.get_secret_value() not in page.text
