"""Offset identity against the real servers: topics made anew, replays and concurrent writers.

The MongoDB configuration projection and the S3 archive are driven directly (``write`` on
batches), so each test sets up exactly the interleaving it attacks.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from schemas import catalog
from sinks.batching import Batch, Item, SourceMessage
from sinks.mongo import CONFIGS, HistoryConflictError, MongoSink
from sinks.s3archive import S3ArchiveSink, decode
from sinks.s3fence import ArchiveFencedError, ArchiveHandoffError
from sinks.settings import SinkSettings
from tests.support import samples
from vidsight.settings import load

pytestmark = pytest.mark.integration

OLD_ID = "11111111111111111111111111111111"
NEW_ID = "22222222222222222222222222222222"


@pytest.fixture
def sink_settings(stack: Any) -> SinkSettings:
    """The stack's stores, in a database and archive prefix of this test only."""
    tag = f"id{uuid.uuid4().hex[:6]}"
    base = load(SinkSettings, data_dir=stack.data_dir)
    return base.model_copy(update={"mongo_database": tag, "archive_prefix": f"it-{tag}"})


@pytest.fixture
def mongo(sink_settings: SinkSettings) -> Iterator[MongoSink]:
    sink = MongoSink(sink_settings)
    sink.open()
    try:
        yield sink
    finally:
        sink.drop()
        sink.close()


def camera_message(offset: int, name: str, *, camera: str = "cam-1") -> tuple[SourceMessage, Any]:
    cam = samples.scene(1, 1, prefix="id-").cameras[0]
    record = dataclasses.replace(cam, camera_id=camera, name=name)
    m = SourceMessage(catalog.CONFIG_CAMERAS, 0, offset, camera.encode(), b"x", 0)
    return m, record


def write_configs(sink: MongoSink, topic_id: str, *versions: tuple[int, str]) -> None:
    sink.topic_ids[catalog.CONFIG_CAMERAS] = topic_id
    items = []
    for offset, name in versions:
        m, record = camera_message(offset, name)
        items.append(Item(m, sink.prepare(m, record)))
    sink.write(Batch(catalog.CONFIG_CAMERAS, 0, items[0].offset, items[-1].offset, items))


def configs(sink: MongoSink) -> list[dict[str, Any]]:
    return list(sink._db()[CONFIGS].find({"id": "cam-1"}))


def test_a_topic_made_anew_wins_over_the_old_incarnations_higher_offsets(mongo: MongoSink) -> None:
    write_configs(mongo, OLD_ID, (500, "old name"))
    write_configs(mongo, NEW_ID, (3, "new name"))
    docs = configs(mongo)
    current = [d for d in docs if d["current"]]
    assert [d["config"]["name"] for d in current] == ["new name"]
    assert current[0]["source"] == {"topic_id": NEW_ID, "partition": 0, "offset": 3}
    history = sorted(d["_id"] for d in docs if not d["current"])
    assert history == [f"camera:cam-1@{OLD_ID}:0:500", f"camera:cam-1@{NEW_ID}:0:3"]
    # The old incarnation, read late (a lagging consumer), no longer takes the document.
    write_configs(mongo, OLD_ID, (501, "stale name"))
    current = [d for d in configs(mongo) if d["current"]]
    assert [d["config"]["name"] for d in current] == ["new name"]


def test_the_same_offset_of_two_incarnations_makes_two_history_documents(
    mongo: MongoSink,
) -> None:
    write_configs(mongo, OLD_ID, (3, "first"))
    write_configs(mongo, NEW_ID, (3, "second"))
    names = sorted(d["config"]["name"] for d in configs(mongo) if not d["current"])
    assert names == ["first", "second"]


def test_a_true_redelivery_is_idempotent(mongo: MongoSink) -> None:
    write_configs(mongo, NEW_ID, (3, "a"), (4, "b"))
    before = sorted(configs(mongo), key=lambda d: d["_id"])
    write_configs(mongo, NEW_ID, (3, "a"), (4, "b"))
    write_configs(mongo, NEW_ID, (4, "b"))
    assert sorted(configs(mongo), key=lambda d: d["_id"]) == before


def test_another_message_at_a_stored_offset_is_refused_not_swallowed(mongo: MongoSink) -> None:
    write_configs(mongo, NEW_ID, (3, "a"))
    with pytest.raises(HistoryConflictError, match=f"camera:cam-1@{NEW_ID}:0:3"):
        write_configs(mongo, NEW_ID, (3, "not a"))
    docs = configs(mongo)
    assert {d["config"]["name"] for d in docs} == {"a"}, "nothing of the conflicting message"


def test_current_documents_of_before_versions_had_incarnations_are_replaced(
    mongo: MongoSink,
) -> None:
    coll = mongo._db()[CONFIGS]
    coll.insert_one({"_id": "camera:cam-1", "current": True, "id": "cam-1", "version": 900})
    write_configs(mongo, NEW_ID, (3, "new name"))
    current = [d for d in configs(mongo) if d["current"]]
    assert [d["config"]["name"] for d in current] == ["new name"]


# ---- the S3 archive ------------------------------------------------------------------------

TOPIC = catalog.FEEDBACK
T0_MS = 1_767_225_600_000


def archive_sink(settings: SinkSettings, handoff_s: float = 0.5) -> S3ArchiveSink:
    sink = S3ArchiveSink(settings.model_copy(update={"archive_block_offsets": 10}))
    sink.topic_ids[TOPIC] = NEW_ID
    sink.fence.handoff_s = handoff_s
    sink.open()
    return sink


def raw(offset: int) -> SourceMessage:
    return SourceMessage(TOPIC, 0, offset, b"cam", f"v{offset}".encode(), T0_MS)


def archive(sink: S3ArchiveSink, *offsets: int) -> None:
    items = [Item(raw(o), raw(o)) for o in offsets]
    sink.write(Batch(TOPIC, 0, offsets[0], offsets[-1], items))


def archived(sink: S3ArchiveSink) -> list[int]:
    s3 = sink._s3()
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=sink.bucket, Prefix=f"{sink.prefix}/").get(
            "Contents", []
        )
    ]
    assert len(keys) == 1, keys
    body = s3.get_object(Bucket=sink.bucket, Key=keys[0])["Body"].read()
    return [m.offset for m in decode(TOPIC, body)]


def archive_after_handoff(sink: S3ArchiveSink, *offsets: int) -> None:
    with pytest.raises(ArchiveHandoffError):
        archive(sink, *offsets)
    time.sleep(sink.fence.handoff_s)
    archive(sink, *offsets)


def test_a_replay_of_a_compacted_topic_keeps_the_archived_history(
    sink_settings: SinkSettings,
) -> None:
    sink = archive_sink(sink_settings)
    archive(sink, 0, 1, 2, 3, 4)
    archive(sink, 0, 4)  # the topic compacted: only the last value of each key is left
    assert archived(sink) == [0, 1, 2, 3, 4]


def test_a_zombie_writer_cannot_overwrite_the_new_owners_records(
    sink_settings: SinkSettings,
) -> None:
    zombie = archive_sink(sink_settings)
    archive(zombie, 0, 1)
    owner = archive_sink(sink_settings)
    # The zombie read the object; the partition's new owner writes before the zombie's PUT.
    read = zombie._existing

    def owner_writes_meanwhile(*args: Any) -> Any:
        held = read(*args)
        archive_after_handoff(owner, 2, 3)  # it waits out the zombie's last write first
        return held

    zombie._existing = owner_writes_meanwhile  # type: ignore[method-assign,assignment]
    with pytest.raises(ArchiveFencedError, match="another consumer owns the partition"):
        archive(zombie, 4)
    assert archived(owner) == [0, 1, 2, 3], "nothing of the owner's lost"
    archive(owner, 4)  # offset 4 was never committed by the zombie: the owner writes it
    assert archived(owner) == [0, 1, 2, 3, 4]


def test_a_released_partition_is_taken_over_at_once_and_merged(
    sink_settings: SinkSettings,
) -> None:
    first = archive_sink(sink_settings, handoff_s=60)
    archive(first, 0, 1)
    first.close()  # a clean stop releases the claim
    second = archive_sink(sink_settings, handoff_s=60)
    archive(second, 2)
    assert archived(second) == [0, 1, 2]
