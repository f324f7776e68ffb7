"""MongoDB documents from records (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import catalog
from sinks.batching import SourceMessage
from sinks.errors import RecordDataError
from sinks.mongo import config_docs, detection_doc, history_conflicts, latest_current, order_key
from tests.support import samples

SCENE = samples.scene(1, 20)
TOPIC_ID = "0123456789abcdef0123456789abcdef"


def m(topic: str, offset: int, key: bytes | None = b"k") -> SourceMessage:
    return SourceMessage(topic, 0, offset, key, b"v", 0)


def test_detection_document_is_keyed_by_the_event_id() -> None:
    d = SCENE.detections[3]
    doc = detection_doc(d, m(catalog.DETECTIONS, 9))
    assert doc["_id"] == d.event_id
    assert doc["frame_ts"] == datetime.fromtimestamp(d.frame_ts / 1e6, UTC)
    assert doc["frame_ts_us"] == d.frame_ts
    assert doc["object_count"] == len(d.objects) == len(doc["objects"])
    assert doc["labels"] == sorted({o.label for o in d.objects})
    assert set(doc["objects"][0]["bbox"]) == {"x1", "y1", "x2", "y2"}
    assert doc["source"] == {"partition": 0, "offset": 9}


def test_config_message_makes_a_history_and_a_current_document() -> None:
    cam = SCENE.cameras[0]
    docs = config_docs(m(catalog.CONFIG_CAMERAS, 5), cam, topic_id=TOPIC_ID)
    assert docs.entity == f"camera:{cam.camera_id}"
    assert docs.history["_id"] == f"camera:{cam.camera_id}@{TOPIC_ID}:0:5"
    assert docs.history["source"] == {"topic_id": TOPIC_ID, "partition": 0, "offset": 5}
    assert docs.current["_id"] == f"camera:{cam.camera_id}"
    assert docs.current["version"] == 5
    assert docs.history["op"] == "upsert" and not docs.current["deleted"]
    assert docs.current["config"]["detector"]["kind"] == "motion"
    assert type(docs.current["config"]["detector"]["kind"]) is str


def test_tombstone_marks_the_current_document_deleted() -> None:
    docs = config_docs(m(catalog.CONFIG_SENSORS, 8, b"s-1"), None)
    assert docs.entity == "sensor:s-1"
    assert docs.current["deleted"] and docs.current["config"] is None
    assert docs.history["op"] == "delete"


def test_tombstone_without_key_is_a_data_error() -> None:
    with pytest.raises(RecordDataError):
        config_docs(m(catalog.CONFIG_SENSORS, 8, None), None)


def test_latest_current_keeps_the_newest_per_entity() -> None:
    cam = SCENE.cameras[0]
    a = config_docs(m(catalog.CONFIG_CAMERAS, 5), cam)
    b = config_docs(m(catalog.CONFIG_CAMERAS, 2), cam)
    c = config_docs(m(catalog.CONFIG_CAMERAS, 3, b"other"), None)
    assert latest_current([a, b, c]) == [a, c]


def test_history_ids_of_the_same_offset_differ_between_incarnations() -> None:
    cam = SCENE.cameras[0]
    old = config_docs(m(catalog.CONFIG_CAMERAS, 3), cam, topic_id="1" * 32)
    new = config_docs(m(catalog.CONFIG_CAMERAS, 3), cam, topic_id="2" * 32)
    assert old.history["_id"] != new.history["_id"]
    assert old.current["_id"] == new.current["_id"], "one current document per entity"


def test_a_later_incarnation_orders_after_every_offset_of_an_earlier_one() -> None:
    old = order_key(1_000, "f" * 32, 500)
    assert order_key(2_000, "0" * 32, 3) > old
    assert order_key(1_000, "f" * 32, 501) > old > order_key(1_000, "f" * 32, 99)
    assert order_key(1_000, "", 3) < order_key(1_000, "1" * 32, 3), "unknown id sorts first"
    assert order_key(10**15, "a" * 32, 0) > order_key(10**14, "a" * 32, 10**18)


def test_a_stored_history_document_conflicts_unless_it_is_the_same_bytes() -> None:
    ours = {"a": b"same", "b": b"mine", "c": b"gone"}
    stored = {"a": b"same", "b": b"theirs"}
    assert history_conflicts(ours, stored) == ["b", "c"]
    assert history_conflicts({"a": b"same"}, stored) == []
