"""Camera ownership: state only for owned cameras, verdicts kept for the others and applied
when their partition arrives, nothing left behind after a revoke."""

from __future__ import annotations

from sp_helpers import CAM, T0, Feed, S, alerts, det, events, feedback, make_engine, obj, zone

from schemas.records import BBox, SensorEventKind
from stream_processors.rules import Engine, Output
from stream_processors.runtime.ownership import Ownership

BOX = BBox(0.45, 0.3, 0.55, 0.5)  # the box of obj(_, 0.5, 0.5)


def entered(outputs: list[Output]) -> list[int | None]:
    return [e.track_id for e in events(outputs, SensorEventKind.ZONE_ENTER)]


def test_verdicts_of_cameras_not_owned_are_kept_and_applied_on_claim() -> None:
    engine = make_engine(zone())
    own = Ownership(engine, feedback_buffer=8)
    own.on_feedback(feedback("a1", boxes=(BOX,)))
    assert engine.camera_ids == ()  # no state for a camera this worker does not own
    own.claim(CAM, 3)
    assert own.partition_of == {CAM: 3} and own.cameras(3) == {CAM}
    feed = Feed(engine)
    feed.at(0.0, obj(1, 0.5, 0.5), obj(2, 0.3, 0.5))
    assert entered(feed.outputs) == [2]  # the false positive's box is suppressed


def test_verdicts_of_owned_cameras_apply_at_once() -> None:
    engine = make_engine(zone())
    own = Ownership(engine, feedback_buffer=8)
    own.claim(CAM, 0)
    own.on_feedback(feedback("a1", boxes=(BOX,)))
    feed = Feed(engine)
    feed.at(0.0, obj(1, 0.5, 0.5))
    assert entered(feed.outputs) == []


def test_restore_loads_state_then_reapplies_verdicts_given_since() -> None:
    source = make_engine(zone(group_gap_s=1.0))
    feed = Feed(source)
    feed.at(0.0, obj(1, 0.5, 0.5))
    opened = alerts(feed.outputs)
    assert opened
    state = source.snapshot(CAM)
    assert state is not None
    # A verdict given after that checkpoint, with no boxes: resolved through the restored
    # state's memory of the alert.
    engine = make_engine(zone(group_gap_s=1.0))
    own = Ownership(engine, feedback_buffer=8)
    own.on_feedback(feedback(opened[0].alert_id))
    assert own.restore(5, {CAM: state}) == []
    assert own.partition_of == {CAM: 5}
    assert engine.snapshot(CAM) != state  # the verdict went into the restored state
    assert engine.counters.feedback_unresolved == 0
    out = engine.on_detections(det(T0 + 10 * S, [obj(2, 0.5, 0.5)], seq=99))
    assert entered(out) == []


def test_unreadable_state_is_reported_and_the_camera_starts_fresh() -> None:
    engine = make_engine(zone())
    own = Ownership(engine, feedback_buffer=8)
    failed = own.restore(1, {CAM: b"not json"})
    assert [c for c, _ in failed] == [CAM]
    assert own.partition_of == {CAM: 1}


def test_release_forgets_the_cameras_of_revoked_partitions() -> None:
    engine = make_engine(zone(), zone("z2", camera_id="cam-2"))
    own = Ownership(engine, feedback_buffer=8)
    for camera, partition in ((CAM, 0), ("cam-2", 1)):
        own.claim(camera, partition)
        Feed(engine, camera).at(0.0, obj(1, 0.5, 0.5))
    assert set(engine.camera_ids) == {CAM, "cam-2"}
    assert own.release([0]) == 1
    assert engine.camera_ids == ("cam-2",) and own.partition_of == {"cam-2": 1}
    assert engine.snapshot_dirty().keys() == {"cam-2"}


def test_a_camera_moving_partition_keeps_its_state() -> None:
    engine = make_engine(zone())
    own = Ownership(engine, feedback_buffer=8)
    own.claim(CAM, 0)
    Feed(engine).at(0.0, obj(1, 0.5, 0.5))
    own.claim(CAM, 4)
    assert own.partition_of == {CAM: 4} and own.cameras(0) == frozenset()
    assert engine.camera_ids == (CAM,)


def test_the_verdict_buffer_is_bounded_per_camera() -> None:
    engine = Engine()
    own = Ownership(engine, feedback_buffer=2)
    for i in range(5):
        own.on_feedback(feedback(f"a{i}", boxes=(BOX,), ts=i))
    own.claim(CAM, 0)
    state = engine.snapshot(CAM)
    assert state is not None and b'"a3"' in state and b'"a2"' not in state
