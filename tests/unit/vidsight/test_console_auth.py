"""The console's pure security logic: password hashes, sessions, CSRF, input caps, evidence keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vidsight.console import inputs
from vidsight.console.auth import Signer, check_login, hash_password, verify_password
from vidsight.console.inputs import InputError

KEY = b"k" * 32


def test_password_hash_round_trip_and_refusals() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("scrypt$") and "correct" not in hashed
    assert verify_password("correct horse battery", hashed)
    assert not verify_password("correct horse batterz", hashed)
    assert not verify_password("x" * 10_000, hashed)  # over the cap: refused before hashing
    assert not verify_password("anything", "plain-text-password")
    _n, r, p, salt, digest = hashed.split("$")[1:]
    expensive = "$".join(("scrypt", str(2**30), r, p, salt, digest))
    assert not verify_password("correct horse battery", expensive)  # cost is bounded


def test_unknown_user_is_refused_with_the_same_work() -> None:
    accounts = {"alice": hash_password("pw-alice-123")}
    dummy = hash_password("dummy")
    assert check_login("alice", "pw-alice-123", accounts, dummy_hash=dummy)
    assert not check_login("bob", "dummy", accounts, dummy_hash=dummy)
    assert not check_login("alice", "wrong", accounts, dummy_hash=dummy)


def test_session_cookie_cannot_be_forged_extended_or_reused_under_another_key() -> None:
    signer = Signer(KEY)
    cookie = signer.issue("alice", now=1000, max_age_s=60)
    session = signer.session(cookie, now=1001)
    assert session is not None and session.user == "alice"
    assert signer.session(cookie, now=1061) is None  # expired
    user, expiry, nonce, mac = cookie.split(".")
    assert signer.session(f"mallory.{expiry}.{nonce}.{mac}", now=1001) is None
    assert signer.session(f"{user}.{int(expiry) + 9999}.{nonce}.{mac}", now=1001) is None
    assert Signer(b"z" * 32).session(cookie, now=1001) is None
    assert signer.session("x" * 5000, now=1001) is None
    assert signer.session(None, now=1001) is None


def test_csrf_token_is_bound_to_the_session() -> None:
    signer = Signer(KEY)
    one = signer.session(signer.issue("alice", 0, 60), 1)
    two = signer.session(signer.issue("alice", 0, 60), 1)
    assert one is not None and two is not None
    assert signer.csrf_ok(one, signer.csrf(one))
    assert not signer.csrf_ok(two, signer.csrf(one))
    assert not signer.csrf_ok(one, None) and not signer.csrf_ok(one, "")
    with pytest.raises(ValueError):
        Signer(b"short")


def test_alert_query_validation_names_each_field() -> None:
    q = inputs.parse_alert_query({"camera": "gate-1", "rule": "zone", "limit": "10"})
    assert q.camera == "gate-1" and q.rule == "zone" and q.limit == 10
    with pytest.raises(InputError) as err:
        inputs.parse_alert_query({"severity": "meh", "limit": "0", "x": "1", "sensor": "a/b"})
    assert {tuple(e["loc"]) for e in err.value.errors} == {
        ("query", "severity"), ("query", "limit"), ("query", "x"), ("query", "sensor")}  # fmt: skip


def test_cursor_round_trip() -> None:
    row = {"start_ts": 1_700_000_000_000_000, "alert_id": "5f1d9a2e-0000-4000-8000-000000000001"}
    assert inputs.parse_cursor(inputs.make_cursor(row)) == (row["start_ts"], row["alert_id"])
    assert inputs.parse_cursor("1_notauuid") is None
    assert inputs.parse_cursor("9" * 40 + "_" + row["alert_id"]) is None


def test_feedback_input() -> None:
    aid = "5f1d9a2e-0000-4000-8000-000000000001"
    fp = inputs.parse_feedback({"alert_id": aid, "action": "false_positive", "reason": "shadow"})
    assert fp.verdict == "false_positive" and fp.note == "reason: shadow"
    reopen = inputs.parse_feedback({"alert_id": aid, "action": "reopen"})
    assert reopen.verdict == "unknown" and reopen.note == "reopened"
    with pytest.raises(InputError) as err:
        inputs.parse_feedback({"alert_id": aid, "action": "confirm", "note": "a\x00b"})
    assert err.value.errors[0]["loc"] == ["body", "note"]
    with pytest.raises(InputError):
        inputs.parse_feedback({"alert_id": aid, "action": "confirm", "note": "n" * 2001})
    with pytest.raises(InputError):
        inputs.parse_feedback([aid])


@pytest.mark.parametrize(
    "uri",
    [
        "s3://other/evidence/a/1.jpg",
        "s3://vidsight/archive/a/1.jpg",
        "s3://vidsight/evidence/../archive/1.jpg",
        "s3://vidsight/evidence/./a/1.jpg",
        "s3://vidsight/evidence//1.jpg",
        "s3://vidsight/evidence/%2e%2e/1.jpg",
        "s3://vidsight/evidence/a\\1.jpg",
        "s3://vidsight/evidence/a/1.jpg?x=1",
        "s3://vidsight/evidence/a/1.avro",
        "s3://vidsight/evidence/a b/1.jpg",
        "s3://vidsight.x/evidence/a/1.jpg",
    ],
)
def test_evidence_key_refuses_other_places(uri: str) -> None:
    with pytest.raises(InputError):
        inputs.evidence_key(uri, "vidsight")


def test_evidence_key_accepts_evidence_images() -> None:
    uri = "s3://vidsight/evidence/gate-1/2026/01/01/00/1767225600000000.jpg"
    assert inputs.evidence_key(uri, "vidsight") == uri.removeprefix("s3://vidsight/")


@given(st.text(max_size=300))
def test_evidence_key_never_escapes_the_prefix(text: str) -> None:
    try:
        key = inputs.evidence_key("s3://vidsight/evidence/" + text, "vidsight")
    except InputError:
        return
    parts = key.split("/")
    assert parts[0] == "evidence" and ".." not in parts and "" not in parts
