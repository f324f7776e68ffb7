"""The .avsc files follow the project's schema rules and carry the public contract fields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import avro.schema
import pytest
from fastavro import parse_schema

from schemas.catalog import load_schema, schema_dict, schema_stems, schema_text

NAMESPACE = "io.vidsight.v1"
STEMS = schema_stems()


def _fields(node: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(dotted path, field) of every record field reachable from a schema node."""
    if isinstance(node, list):
        for branch in node:
            yield from _fields(branch, path)
    elif isinstance(node, Mapping):
        kind = node.get("type")
        if kind == "record":
            for field in node["fields"]:
                yield f"{path}{field['name']}", field
                yield from _fields(field["type"], f"{path}{field['name']}.")
        elif kind == "array":
            yield from _fields(node["items"], path)
        elif kind == "map":
            yield from _fields(node["values"], path)


def _named(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every named type (record, enum) defined inside a schema node."""
    if isinstance(node, list):
        for branch in node:
            yield from _named(branch)
    elif isinstance(node, Mapping):
        kind = node.get("type")
        if kind in ("record", "enum", "fixed"):
            yield node
        if kind == "record":
            for field in node["fields"]:
                yield from _named(field["type"])
        elif kind == "array":
            yield from _named(node["items"])
        elif kind == "map":
            yield from _named(node["values"])


def _base(type_: Any) -> Any:
    """The non-null branch of a nullable union, else the type itself."""
    if isinstance(type_, list):
        return type_[1]
    return type_


def test_there_is_one_schema_per_avro_topic() -> None:
    assert set(STEMS) == {
        "FrameRef",
        "Detections",
        "SensorEvent",
        "Alert",
        "Feedback",
        "CameraConfig",
        "SensorConfig",
        "RecordingSegment",
        "Heartbeat",
    }


@pytest.mark.parametrize("stem", STEMS)
def test_schema_parses_with_fastavro_and_apache_avro(stem: str) -> None:
    parse_schema(dict(schema_dict(stem)))
    avro.schema.parse(schema_text(stem))
    assert load_schema(stem)["name"] == f"{NAMESPACE}.{stem}"


@pytest.mark.parametrize("stem", STEMS)
def test_named_types_are_namespaced_and_documented(stem: str) -> None:
    top = schema_dict(stem)
    assert top["namespace"] == NAMESPACE
    assert top.get("doc")
    for named in _named(top):
        assert named.get("doc"), f"{stem}: {named['name']} has no doc"
        assert "." not in named["name"] and named.get("namespace", NAMESPACE) == NAMESPACE


@pytest.mark.parametrize("stem", STEMS)
def test_every_field_has_a_doc(stem: str) -> None:
    for path, field in _fields(schema_dict(stem)):
        assert field.get("doc"), f"{stem}.{path} has no doc"


@pytest.mark.parametrize("stem", STEMS)
def test_nullable_fields_are_null_first_with_null_default(stem: str) -> None:
    for path, field in _fields(schema_dict(stem)):
        if isinstance(field["type"], list):
            assert field["type"][0] == "null" and len(field["type"]) == 2, f"{stem}.{path}"
            assert "default" in field and field["default"] is None, f"{stem}.{path}"


@pytest.mark.parametrize("stem", STEMS)
def test_enums_have_a_default_symbol(stem: str) -> None:
    enums = [n for n in _named(schema_dict(stem)) if n["type"] == "enum"]
    for node in enums:
        assert node["default"] == "unknown" and node["symbols"][-1] == "unknown", node["name"]


@pytest.mark.parametrize("stem", STEMS)
def test_times_are_timestamp_micros_and_ids_are_uuids(stem: str) -> None:
    for path, field in _fields(schema_dict(stem)):
        name, base = field["name"], _base(field["type"])
        if name == "ts" or name.endswith("_ts"):
            assert base == {"type": "long", "logicalType": "timestamp-micros"}, f"{stem}.{path}"
        if name in ("event_id", "alert_id", "feedback_id"):
            assert base == {"type": "string", "logicalType": "uuid"}, f"{stem}.{path}"


def _field_map(stem: str) -> dict[str, Mapping[str, Any]]:
    return {f["name"]: f for f in schema_dict(stem)["fields"]}


def _symbols(type_: Any) -> list[str]:
    return [s for s in _base(type_)["symbols"] if s != "unknown"]


def test_sensor_event_contract_fields() -> None:
    """DESIGN.md 'Contracts other people build on': these names are public."""
    fields = _field_map("SensorEvent")
    for name in ("event_id", "camera_id", "sensor_id", "kind", "direction", "track_id"):
        assert name in fields
    for name in ("label", "score", "ts"):
        assert name in fields
    assert _symbols(fields["kind"]["type"]) == [
        "zone_enter",
        "zone_exit",
        "line_cross",
        "loiter",
        "occupancy",
        "speed",
        "video_loss",
        "node_offline",
    ]
    assert fields["direction"]["type"][0] == "null"
    assert _symbols(fields["direction"]["type"]) == ["a_to_b", "b_to_a"]


def test_alert_contract_fields() -> None:
    fields = _field_map("Alert")
    for name in (
        "alert_id",
        "camera_id",
        "sensor_id",
        "kind",
        "lifecycle",
        "severity",
        "label",
        "top_score",
        "start_ts",
        "end_ts",
        "evidence_uri",
    ):
        assert name in fields
    assert _symbols(fields["lifecycle"]["type"]) == ["new", "update", "end"]
    assert fields["end_ts"]["type"][0] == "null"


def test_bbox_is_normalised_corners_everywhere() -> None:
    bboxes = [n for stem in STEMS for n in _named(schema_dict(stem)) if n["name"] == "BBox"]
    assert len(bboxes) >= 4
    for node in bboxes:
        assert [f["name"] for f in node["fields"]] == ["x1", "y1", "x2", "y2"]
        assert "normalised" in node["doc"]
        assert node == bboxes[0], "every copy of BBox must be identical"
