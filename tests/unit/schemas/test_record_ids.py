"""Deterministic ids: the same identifying fields give the same UUIDv5, anything else differs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from schemas.records import (
    VIDSIGHT_NAMESPACE,
    alert_id,
    detections_event_id,
    feedback_id,
    frame_event_id,
    from_micros,
    sensor_event_id,
    to_micros,
)

TS = 1_700_000_000_000_000


def test_ids_are_uuid5_in_the_vidsight_namespace() -> None:
    value = detections_event_id("gate-1", TS, 7)
    parsed = uuid.UUID(value)
    assert parsed.version == 5
    name = "\x1f".join(["detections", "gate-1", str(TS), "7"])
    assert parsed == uuid.uuid5(VIDSIGHT_NAMESPACE, name)


def test_namespace_is_pinned() -> None:
    # every id ever issued depends on it: changing it is a breaking change
    assert str(VIDSIGHT_NAMESPACE) == "0c1b6a4e-6f5b-5b2a-9c3e-2f7d8e9a1b4c"


def test_same_inputs_same_id() -> None:
    assert sensor_event_id("c", "s", "line_cross", TS, 3, direction="a_to_b") == sensor_event_id(
        "c", "s", "line_cross", TS, 3, direction="a_to_b"
    )
    assert alert_id("c", "s", TS) == alert_id("c", "s", TS, "")


def test_kinds_do_not_collide() -> None:
    ids = {frame_event_id("c", TS, 1), detections_event_id("c", TS, 1)}
    assert len(ids) == 2


def test_each_identifying_field_matters() -> None:
    base = sensor_event_id("c", "s", "loiter", TS, 1)
    others = {
        sensor_event_id("c2", "s", "loiter", TS, 1),
        sensor_event_id("c", "s2", "loiter", TS, 1),
        sensor_event_id("c", "s", "zone_enter", TS, 1),
        sensor_event_id("c", "s", "loiter", TS + 1, 1),
        sensor_event_id("c", "s", "loiter", TS, 2),
        sensor_event_id("c", "s", "loiter", TS, None),
        sensor_event_id("c", "s", "loiter", TS, 1, direction="a_to_b"),
    }
    assert base not in others and len(others) == 7
    assert alert_id("c", "s", TS, "person") != alert_id("c", "s", TS, "car")
    assert feedback_id("a", "op", TS) != feedback_id("a", "op2", TS)


TRICKY = st.text(alphabet="a\\\x1fu01f", max_size=8)


@given(TRICKY, TRICKY, TRICKY, TRICKY)
def test_distinct_fields_never_share_an_id(a: str, b: str, c: str, d: str) -> None:
    # the separator and the escape character inside ids must not make two names equal
    assume((a, b) != (c, d))
    assert alert_id(a, b, TS) != alert_id(c, d, TS)


def test_separator_inside_an_id_does_not_shift_fields() -> None:
    assert alert_id("0", "\x1f0", TS) != alert_id("0\x1f", "0", TS)
    assert alert_id("a\\", "b", TS) != alert_id("a", "\\b", TS)


def test_micros_round_trip_exactly() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment
    assert to_micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    plus_two = timezone(timedelta(hours=2))
    assert to_micros(datetime(1970, 1, 1, 2, tzinfo=plus_two)) == 0
    assert from_micros(TS).tzinfo is UTC


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_micros(datetime(2024, 1, 1))
