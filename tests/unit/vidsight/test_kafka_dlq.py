"""Dead letters: headers in catalog order, safe truncation, the writer over a producer."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.catalog import DLQ_HEADERS as CATALOG_DLQ_HEADERS
from schemas.errors import SerializationError
from vidsight.kafka.dlq import (
    DLQ_HEADERS,
    MESSAGE_LIMIT,
    DeadLetterWriter,
    dlq_headers,
    parse_dlq_headers,
    truncate_utf8,
)
from vidsight.kafka.errors import DeliveryError
from vidsight.kafka.producer import AckingProducer


def test_the_catalog_names_the_runtimes_headers() -> None:
    assert tuple(CATALOG_DLQ_HEADERS) == DLQ_HEADERS


def test_headers_name_stage_error_and_source_in_catalog_order() -> None:
    error = SerializationError("wrong magic byte 0x01", topic="t", partition=3, offset=42)
    headers = dlq_headers(
        "sink.postgres", error, "vidsight.feedback", 3, 42, ts_us=1_700_000_000_000_000
    )
    assert [k for k, _ in headers] == list(DLQ_HEADERS)
    parsed = parse_dlq_headers([(k, v) for k, v in headers])
    assert parsed["vidsight.stage"] == "sink.postgres"
    assert parsed["vidsight.error.class"] == "SerializationError"
    assert parsed["vidsight.error.message"].startswith("wrong magic byte 0x01")
    assert parsed["vidsight.source.topic"] == "vidsight.feedback"
    assert parsed["vidsight.source.partition"] == "3"
    assert parsed["vidsight.source.offset"] == "42"
    assert parsed["vidsight.ts"] == "1700000000000000"


def test_long_messages_are_cut_to_the_limit() -> None:
    headers = dict(dlq_headers("s", ValueError("x" * 5000), "t", 0, 0, ts_us=0))
    assert len(headers["vidsight.error.message"]) == MESSAGE_LIMIT


def test_long_messages_are_cut_without_splitting_a_character() -> None:
    headers = dict(dlq_headers("s", ValueError("é" * 2000), "t", 0, 0, ts_us=0))
    message = headers["vidsight.error.message"]
    assert len(message) <= MESSAGE_LIMIT
    assert message.decode() == "é" * (MESSAGE_LIMIT // 2)


@given(st.text(max_size=600), st.integers(1, 64))
def test_truncation_never_splits_a_character(text: str, limit: int) -> None:
    cut = truncate_utf8(text, limit)
    assert len(cut) <= limit
    decoded = cut.decode("utf-8")  # would raise on a split character
    assert text.encode("utf-8", errors="replace").decode("utf-8").startswith(decoded)


def test_parse_ignores_foreign_headers() -> None:
    assert parse_dlq_headers([("other", b"x"), ("vidsight.stage", b"s")]) == {"vidsight.stage": "s"}


class _Producer:
    """A client that acknowledges at flush (or fails every record when ``fail``)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.records: list[dict[str, Any]] = []
        self._reports: list[Any] = []

    def produce(self, topic: str, **kwargs: Any) -> None:
        self.records.append({"topic": topic, **kwargs})
        self._reports.append(kwargs["on_delivery"])

    def poll(self, timeout: float = -1) -> int:
        return 0

    def flush(self, timeout: float = -1) -> int:
        reports, self._reports = self._reports, []
        for report in reports:
            report("broker down" if self.fail else None, _Msg())
        return 0


class _Msg:
    def topic(self) -> str:
        return "vidsight.dlq"

    def partition(self) -> int:
        return 0


def test_the_writer_sends_the_original_bytes_and_counts_by_source() -> None:
    client = _Producer()
    writer = DeadLetterWriter(
        AckingProducer({}, factory=lambda conf: client), "vidsight.dlq", stage="sink.x"
    )
    writer.send(
        ValueError("bad"), topic="vidsight.alerts", partition=2, offset=7, key=b"k", value=b"v"
    )
    writer.flush()
    (record,) = client.records
    assert (record["topic"], record["key"], record["value"]) == ("vidsight.dlq", b"k", b"v")
    parsed = parse_dlq_headers(record["headers"])
    assert parsed["vidsight.stage"] == "sink.x" and parsed["vidsight.source.offset"] == "7"
    assert writer.sent == {"vidsight.alerts": 1} and writer.total == 1


def test_an_unacknowledged_letter_fails_the_flush_once() -> None:
    client = _Producer(fail=True)
    writer = DeadLetterWriter(AckingProducer({}, factory=lambda conf: client), "vidsight.dlq")
    writer.send(ValueError("bad"), topic="t", partition=0, offset=0, key=None, value=b"v")
    try:
        writer.flush()
    except DeliveryError as exc:
        assert "broker down" in str(exc)
    else:
        raise AssertionError("the flush did not fail")
    writer.flush()  # reported once, then forgotten
