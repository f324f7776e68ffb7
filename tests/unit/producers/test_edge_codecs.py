"""Spool payload formats, evidence key layout, schema stash, backoff timing."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.events import SchemaStash, SpooledEvent, decode_event, encode_event, fingerprint
from producers.evidence import (
    decode_spooled,
    encode_spooled,
    evidence_key,
    evidence_object,
)
from producers.sources.backoff import BackoffPolicy, StallDetector
from producers.sources.base import redact
from schemas.catalog import schema_text
from vidsight.kafka.backoff import Retry


def test_evidence_key_layout_is_designs() -> None:
    ts = 1_700_000_000_123_456  # 2023-11-14T22:13:20.123456Z
    assert evidence_key("gate-1", ts) == f"evidence/gate-1/2023/11/14/22/{ts}.jpg"
    obj = evidence_object("gate-1", ts, b"\xff\xd8jpeg")
    ref = obj.ref("vidsight")
    assert ref.uri == f"s3://vidsight/evidence/gate-1/2023/11/14/22/{ts}.jpg"
    assert ref.size == 6 and ref.sha256 == hashlib.sha256(b"\xff\xd8jpeg").hexdigest()


@given(
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True),
    st.integers(0, 2**52),
    st.binary(max_size=500),
)
def test_evidence_spool_round_trip(camera: str, ts: int, data: bytes) -> None:
    obj = evidence_object(camera, ts, data)
    assert decode_spooled(encode_spooled(obj)) == obj


@given(
    st.sampled_from(["vidsight.frames", "vidsight.detections"]),
    st.binary(max_size=64),
    st.binary(min_size=8, max_size=8),
    st.binary(max_size=2000),
    st.integers(0, 2**63 - 1),
)
def test_event_spool_round_trip(topic: str, key: bytes, fp: bytes, value: bytes, ts: int) -> None:
    event = SpooledEvent(topic, key, fp, value, ts)
    assert decode_event(encode_event(event)) == event


def test_malformed_payloads_are_value_errors() -> None:
    with pytest.raises(ValueError):
        decode_event(b"\x02" + b"\x00" * 20)
    with pytest.raises(ValueError):
        decode_event(b"\x01")
    with pytest.raises(ValueError):
        decode_spooled(b"\x00")


def test_schema_stash(tmp_path: Path) -> None:
    stash = SchemaStash(tmp_path / "schemas")
    text = schema_text("FrameRef")
    fp = stash.add(text)
    assert fp == fingerprint(text) and len(fp) == 8
    assert stash.add(text) == fp
    assert stash.text(fp) == text
    assert stash.text(b"\x00" * 8) is None


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    backoff = Retry(BackoffPolicy(initial_s=1, max_s=10, jitter=0.5), random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    bases = [1, 2, 4, 8, 10, 10, 10, 10]
    assert all(b * 0.5 <= d <= b for d, b in zip(delays, bases, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_backoff_gives_up_after_max_attempts() -> None:
    backoff = Retry(BackoffPolicy(max_attempts=2))
    assert not backoff.exhausted
    backoff.next_delay()
    backoff.next_delay()
    assert backoff.exhausted
    with pytest.raises(ValueError):
        BackoffPolicy(initial_s=5, max_s=1)


def test_stall_detector() -> None:
    stall = StallDetector(5.0, now=100.0)
    assert not stall.stalled(104.0)
    assert stall.stalled(105.5) and stall.idle_s(105.5) == pytest.approx(5.5)
    stall.progress(105.5)
    assert not stall.stalled(110.0)


def test_redact_hides_passwords() -> None:
    assert redact("rtsp://admin:secret@10.0.0.5/s1") == "rtsp://admin:***@10.0.0.5/s1"
    assert redact("rtsp://10.0.0.5/s1?a=b@c") == "rtsp://10.0.0.5/s1?a=b@c"
    assert redact("file:///x.mp4") == "file:///x.mp4"
