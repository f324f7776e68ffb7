"""Malformed input raises SerializationError naming topic/partition/offset, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schemas import catalog
from schemas.errors import SchemaError, SerializationError
from schemas.records import (
    BBox,
    DetectedObject,
    Detections,
    FrameRef,
    detections_event_id,
    frame_event_id,
)
from schemas.serde import InMemorySchemaResolver, Serde
from vidsight.errors import VidsightError

TS = 1_700_000_000_000_000
AVRO_TOPICS = [spec.name for spec in catalog.CATALOG if spec.value_schema is not None]


def _serde() -> Serde:
    """A serde whose resolver knows every current schema, so ids 1..7 all resolve."""
    resolver = InMemorySchemaResolver()
    serde = Serde(resolver)
    for topic in AVRO_TOPICS:
        _ = serde.topic(topic).schema_id
    return serde


SERDE = _serde()
DETECTIONS = SERDE.topic(catalog.DETECTIONS, Detections)
GOOD = DETECTIONS.encode(
    Detections(
        event_id=detections_event_id("gate-1", TS, 1),
        camera_id="gate-1",
        frame_ts=TS,
        seq=1,
        model="hog",
        objects=(
            DetectedObject(track_id=3, label="person", score=0.8, bbox=BBox(0.1, 0.1, 0.2, 0.5)),
        ),
        evidence_uri=None,
    )
)


def _decode(data: bytes) -> None:
    DETECTIONS.decode(data, partition=4, offset=1234)


def _assert_context(exc: SerializationError) -> None:
    assert exc.topic == catalog.DETECTIONS and exc.partition == 4 and exc.offset == 1234
    assert "topic=vidsight.detections partition=4 offset=1234" in str(exc)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter than the 5-byte header"),
        (b"\x00\x00\x00", "shorter than the 5-byte header"),
        (b"\x01" + GOOD[1:], "wrong magic byte 0x01"),
        (b"{json: true}", "wrong magic byte 0x7b"),
        (b"\x00\x00\x00\x03\xe7" + GOOD[5:], "unknown schema id 999"),
        (GOOD[:-3], "cannot decode Detections"),
        (GOOD[:6], "cannot decode Detections"),
        (GOOD + b"\x00", "1 trailing bytes"),
        (b"\x00" + GOOD[1:5] + b"\xff" * 40, "cannot decode Detections"),
    ],
    ids=[
        "empty",
        "short-header",
        "wrong-magic",
        "json",
        "unknown-id",
        "truncated",
        "truncated-early",
        "trailing",
        "garbage-body",
    ],
)
def test_malformed_value(data: bytes, reason: str) -> None:
    with pytest.raises(SerializationError, match=reason) as info:
        _decode(data)
    _assert_context(info.value)


def test_a_value_of_another_schema_is_rejected() -> None:
    frame = SERDE.topic(catalog.FRAMES, FrameRef).encode(
        FrameRef(
            event_id=frame_event_id("c", TS, 1),
            camera_id="c",
            frame_ts=TS,
            seq=1,
            width=2,
            height=2,
            motion_score=0.0,
        )
    )
    with pytest.raises(SerializationError) as info:
        _decode(frame)
    _assert_context(info.value)


def test_error_type_hierarchy() -> None:
    assert issubclass(SerializationError, SchemaError)
    assert issubclass(SerializationError, VidsightError)


def test_message_names_only_the_context_given() -> None:
    with pytest.raises(SerializationError) as info:
        DETECTIONS.decode(b"\x01\x00\x00\x00\x01")
    # the codec always knows its topic; partition and offset only when the caller gives them
    assert str(info.value) == "wrong magic byte 0x01, expected 0x00 (topic=vidsight.detections)"
    assert info.value.partition is None and info.value.offset is None


def test_decode_many_names_the_bad_offset() -> None:
    with pytest.raises(SerializationError, match="partition=2 offset=11") as info:
        DETECTIONS.decode_many([GOOD, b"\x00oops", GOOD], partition=2, offsets=[10, 11, 12])
    assert info.value.offset == 11


# -- fuzzing ----------------------------------------------------------------------------


def _decodes_or_serialization_error(topic: str, data: bytes) -> None:
    try:
        SERDE.topic(topic).decode(data, partition=0, offset=7)
    except SerializationError as exc:
        assert exc.topic == topic and exc.offset == 7


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.sampled_from(AVRO_TOPICS), st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(topic: str, data: bytes) -> None:
    _decodes_or_serialization_error(topic, data)


@FUZZ
@given(
    st.sampled_from(AVRO_TOPICS),
    st.integers(min_value=0, max_value=9),
    st.binary(max_size=300),
)
def test_fuzz_valid_header_random_body(topic: str, schema_id: int, body: bytes) -> None:
    _decodes_or_serialization_error(topic, b"\x00" + schema_id.to_bytes(4, "big") + body)


@FUZZ
@given(
    st.sampled_from(AVRO_TOPICS),
    st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=6),
    st.integers(min_value=0, max_value=len(GOOD)),
)
def test_fuzz_mutated_valid_message(topic: str, flips: list[tuple[int, int]], keep: int) -> None:
    data = bytearray(GOOD)
    for position, value in flips:
        data[position] = value
    mutated = bytes(data[:keep])
    assume(mutated != GOOD)
    _decodes_or_serialization_error(topic, mutated)
