"""The generic record <-> Avro mapping: the same datums as the hand-written conversions, old
writers' data, logical types, enums with symbols added later, and errors that name the field."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from test_serde_codec import CASE_IDS, CASES, TS

from schemas.errors import RecordValueError, SchemaError
from schemas.records import (
    Alert,
    AvroRecord,
    BBox,
    CameraConfig,
    Feedback,
    SensorKind,
    Verdict,
    feedback_id,
)
from schemas.records.mapping import RecordMapping, mapping_for

FEEDBACK = Feedback(
    feedback_id=feedback_id("a", "op", TS),
    alert_id="a",
    camera_id="gate-1",
    sensor_id="gate-1-line",
    verdict=Verdict.FALSE_POSITIVE,
    operator="op",
    ts=TS,
    boxes=(BBox(0.1, 0.2, 0.3, 0.4),),
)


def _plain(value: Any) -> Any:
    """A datum with enums as plain strings and tuples as lists (what fastavro compares)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@pytest.mark.parametrize(("topic", "record"), CASES, ids=CASE_IDS)
def test_every_record_maps_like_its_own_conversions(topic: str, record: AvroRecord) -> None:
    mapping = mapping_for(type(record))
    datum = mapping.to_avro(record)
    assert _plain(datum) == _plain(record.to_avro())
    assert mapping.from_avro(datum) == record
    assert mapping.from_avro(record.to_avro()) == type(record).from_avro(record.to_avro())


def test_fields_an_older_writer_lacked_take_the_schema_default() -> None:
    datum = FEEDBACK.to_avro()
    del datum["label"], datum["boxes"], datum["note"]
    old = Feedback.from_avro(datum)
    assert (old.label, old.boxes, old.note) == (None, (), None)
    assert mapping_for(Feedback).from_avro(datum) == old


def test_a_symbol_added_after_the_enum_reads_as_unknown() -> None:
    datum = FEEDBACK.to_avro()
    datum["verdict"] = "probably_fine"
    assert mapping_for(Feedback).from_avro(datum).verdict is Verdict.UNKNOWN


def test_logical_types_from_a_reader_that_applies_them_are_converted() -> None:
    datum = FEEDBACK.to_avro()
    datum["ts"] = datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    datum["feedback_id"] = uuid.UUID(FEEDBACK.feedback_id)
    record = mapping_for(Feedback).from_avro(datum)
    assert record.ts == 1_700_000_000_123_456
    assert record.feedback_id == FEEDBACK.feedback_id
    datum["ts"] = datetime(2023, 11, 14)  # naive: not an event time
    with pytest.raises(RecordValueError, match=r"Feedback\.ts: naive datetime"):
        mapping_for(Feedback).from_avro(datum)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"operator": 7}, r"Feedback\.operator: expected string, got int"),
        ({"ts": "yesterday"}, r"Feedback\.ts: expected int microseconds"),
        ({"ts": True}, r"Feedback\.ts: expected int microseconds"),
        ({"boxes": [{"x1": 0.1, "y1": 0.2, "x2": "far", "y2": 0.4}]}, r"boxes\[0\]\.x2"),
        ({"boxes": "none"}, r"Feedback\.boxes: expected an array"),
        ({"verdict": 3}, r"Feedback\.verdict: expected a Verdict symbol"),
        ({"note": 1.5}, r"Feedback\.note: expected null \| string, got float"),
    ],
)
def test_bad_input_names_the_record_and_the_field(change: dict[str, Any], message: str) -> None:
    datum = {**FEEDBACK.to_avro(), **change}
    with pytest.raises(RecordValueError, match=message) as info:
        mapping_for(Feedback).from_avro(datum)
    assert isinstance(info.value, ValueError)  # the serde dead-letters the message


def test_a_required_field_missing_is_refused() -> None:
    datum = FEEDBACK.to_avro()
    del datum["operator"]
    with pytest.raises(RecordValueError, match=r"Feedback\.operator: missing"):
        mapping_for(Feedback).from_avro(datum)


def test_nested_maps_and_arrays_name_their_path() -> None:
    (config,) = (r for _, r in CASES if isinstance(r, CameraConfig) and r.detector.options)
    datum = config.to_avro()
    datum["detector"]["options"] = {"labels": ["person", 3]}
    with pytest.raises(RecordValueError, match=r"CameraConfig\.detector\.options\[labels\]"):
        mapping_for(CameraConfig).from_avro(datum)


def test_records_of_the_wrong_shape_are_refused_both_ways() -> None:
    with pytest.raises(RecordValueError, match="expected a Feedback, got Alert"):
        mapping_for(Feedback).to_avro(next(r for _, r in CASES if isinstance(r, Alert)))
    bad = FEEDBACK.to_avro()
    bad["boxes"] = [BBox(0.1, 0.2, 0.3, 0.4)]  # an object where a datum belongs
    with pytest.raises(RecordValueError, match=r"Feedback\.boxes\[0\]: expected a record"):
        mapping_for(Feedback).from_avro(bad)


def test_a_class_that_does_not_match_its_schema_is_refused() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Drifted:
        SCHEMA: ClassVar[str] = "Feedback"
        feedback_id: str
        kind: SensorKind

    with pytest.raises(SchemaError, match="Drifted fields"):
        mapping_for(Drifted)
    with pytest.raises(SchemaError, match="is not a dataclass"):
        RecordMapping(int, {"type": "record", "name": "X", "fields": []}, {})
