"""Dead-letter headers (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sink_helpers import msg

from schemas.catalog import DLQ_HEADERS
from schemas.errors import SerializationError
from sinks.dlq import MESSAGE_LIMIT, dlq_headers, parse_dlq_headers, truncate_utf8


def test_headers_name_stage_error_and_source_in_catalog_order() -> None:
    error = SerializationError("wrong magic byte 0x01", topic="t", partition=3, offset=42)
    m = msg(42, partition=3)
    headers = dlq_headers("sink.postgres", error, m, ts_us=1_700_000_000_000_000)
    assert [k for k, _ in headers] == list(DLQ_HEADERS)
    parsed = parse_dlq_headers([(k, v) for k, v in headers])
    assert parsed["vidsight.stage"] == "sink.postgres"
    assert parsed["vidsight.error.class"] == "SerializationError"
    assert parsed["vidsight.error.message"].startswith("wrong magic byte 0x01")
    assert parsed["vidsight.source.topic"] == m.topic
    assert parsed["vidsight.source.partition"] == "3"
    assert parsed["vidsight.source.offset"] == "42"
    assert parsed["vidsight.ts"] == "1700000000000000"


def test_long_messages_are_cut_to_the_limit() -> None:
    headers = dict(dlq_headers("s", ValueError("x" * 5000), msg(0), ts_us=0))
    assert len(headers["vidsight.error.message"]) == MESSAGE_LIMIT


@given(st.text(max_size=600), st.integers(1, 64))
def test_truncation_never_splits_a_character(text: str, limit: int) -> None:
    cut = truncate_utf8(text, limit)
    assert len(cut) <= limit
    decoded = cut.decode("utf-8")  # would raise on a split character
    assert text.encode("utf-8", errors="replace").decode("utf-8").startswith(decoded)


def test_parse_ignores_foreign_headers() -> None:
    assert parse_dlq_headers([("other", b"x"), ("vidsight.stage", b"s")]) == {"vidsight.stage": "s"}
