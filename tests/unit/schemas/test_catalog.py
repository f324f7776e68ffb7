"""The topic catalog holds every topic of DESIGN.md with sensible settings."""

from __future__ import annotations

import json

import pytest

from schemas import catalog
from schemas.catalog import CATALOG, TopicSpec, topic
from schemas.errors import UnknownTopicError
from vidsight.errors import VidsightError

DESIGN_TOPICS = {
    "vidsight.frames": "FrameRef",
    "vidsight.detections": "Detections",
    "vidsight.sensor-events": "SensorEvent",
    "vidsight.alerts": "Alert",
    "vidsight.feedback": "Feedback",
    "vidsight.config.cameras": "CameraConfig",
    "vidsight.config.sensors": "SensorConfig",
    "vidsight.recordings": "RecordingSegment",
    "vidsight.health": "Heartbeat",
    "vidsight.dlq": None,
    "vidsight.processor-changelog": None,  # the rules runtime's state store (raw bytes)
}


def test_catalog_holds_exactly_the_design_topics() -> None:
    assert {spec.name: spec.value_schema for spec in CATALOG} == DESIGN_TOPICS


def test_topic_names_are_unique() -> None:
    assert len({spec.name for spec in CATALOG}) == len(CATALOG)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.name)
def test_every_value_schema_exists(spec: TopicSpec) -> None:
    if spec.value_schema is not None:
        assert spec.value_schema in catalog.schema_stems()
        assert spec.subject == f"{spec.name}-value"
    else:
        assert spec.subject is None


def test_event_topics_have_twelve_partitions_and_delete_policy() -> None:
    for spec in CATALOG:
        if (
            not spec.name.startswith("vidsight.config.")
            and spec.name != catalog.PROCESSOR_CHANGELOG
        ):
            assert spec.partitions == catalog.DEFAULT_PARTITIONS == 12
            assert spec.config["cleanup.policy"] == "delete"
            assert not spec.compacted
            assert spec.key == "camera_id"


def test_config_topics_are_compacted_and_kept_forever() -> None:
    for name in (catalog.CONFIG_CAMERAS, catalog.CONFIG_SENSORS):
        spec = topic(name)
        assert spec.compacted
        assert spec.config["cleanup.policy"] == "compact"
        assert spec.config["retention.ms"] == "-1"
    assert topic(catalog.CONFIG_CAMERAS).key == "camera_id"
    # compaction keeps one value per key: sensors need their own key
    assert topic(catalog.CONFIG_SENSORS).key == "sensor_id"


def test_processor_changelog_is_compacted_and_co_partitioned_with_the_inputs() -> None:
    spec = topic(catalog.PROCESSOR_CHANGELOG)
    assert spec.compacted and spec.config["cleanup.policy"] == "compact"
    assert spec.config["retention.ms"] == "-1"
    assert spec.value_schema is None and spec.key == "camera_id"
    assert (
        spec.partitions == topic(catalog.DETECTIONS).partitions == topic(catalog.FRAMES).partitions
    )


def test_retention_is_set_and_feedback_is_kept_forever() -> None:
    for spec in CATALOG:
        assert int(spec.config["retention.ms"]) == -1 or int(spec.config["retention.ms"]) > 0
    assert topic(catalog.FEEDBACK).config["retention.ms"] == "-1"
    assert int(topic(catalog.FRAMES).config["retention.ms"]) == 3 * 24 * 3600 * 1000


def test_config_is_read_only() -> None:
    with pytest.raises(TypeError):
        topic(catalog.FRAMES).config["retention.ms"] = "1"  # type: ignore[index]


def test_unknown_topic_is_a_typed_error_naming_the_known_ones() -> None:
    with pytest.raises(UnknownTopicError, match=r"vidsight\.nope.*vidsight\.frames"):
        topic("vidsight.nope")
    assert issubclass(UnknownTopicError, VidsightError)


def test_unknown_schema_is_a_typed_error() -> None:
    with pytest.raises(UnknownTopicError, match="Nope"):
        catalog.load_schema("Nope")


def test_schema_text_is_compact_json_of_the_file() -> None:
    text = catalog.schema_text("Detections")
    assert "\n" not in text and ", " not in text.split('"doc"')[0]
    assert json.loads(text) == catalog.schema_dict("Detections")


def test_load_schema_is_parsed_and_cached() -> None:
    parsed = catalog.load_schema("Alert")
    assert parsed is catalog.load_schema("Alert")
    assert parsed["name"] == "io.vidsight.v1.Alert"


def test_subjects_follow_topic_name_strategy() -> None:
    assert dict(catalog.subjects()) == {
        f"{name}-value": stem for name, stem in DESIGN_TOPICS.items() if stem is not None
    }


def test_dlq_headers_name_the_source() -> None:
    assert topic(catalog.DLQ).value_schema is None
    for header in ("vidsight.source.topic", "vidsight.source.partition", "vidsight.source.offset"):
        assert header in catalog.DLQ_HEADERS
