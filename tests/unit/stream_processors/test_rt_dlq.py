"""Dead letters carry the DLQ headers in catalog order; long messages are cut safely."""

from __future__ import annotations

from schemas.catalog import DLQ_HEADERS
from schemas.errors import SerializationError
from stream_processors.runtime.dlq import MESSAGE_LIMIT, dead_letter_headers


def test_headers_in_catalog_order_with_the_source() -> None:
    error = SerializationError("bad magic", topic="vidsight.detections", partition=3, offset=42)
    headers = dead_letter_headers(
        "processor.detections", error, "vidsight.detections", 3, 42, ts_us=1_700_000_000_000_000
    )
    assert [k for k, _ in headers] == list(DLQ_HEADERS)
    values = {k: v.decode() for k, v in headers}
    assert values["vidsight.stage"] == "processor.detections"
    assert values["vidsight.error.class"] == "SerializationError"
    assert "bad magic" in values["vidsight.error.message"]
    assert values["vidsight.source.topic"] == "vidsight.detections"
    assert (values["vidsight.source.partition"], values["vidsight.source.offset"]) == ("3", "42")
    assert values["vidsight.ts"] == "1700000000000000"


def test_long_messages_are_cut_without_splitting_a_character() -> None:
    headers = dict(dead_letter_headers("s", ValueError("é" * 2000), "t", 0, 0, ts_us=0))
    message = headers["vidsight.error.message"]
    assert len(message) <= MESSAGE_LIMIT
    assert message.decode() == "é" * (MESSAGE_LIMIT // 2)
