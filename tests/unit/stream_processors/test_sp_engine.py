"""The engine API the runtime calls: sensors topic, routing, replay determinism, snapshots."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sp_helpers import (
    CAM,
    T0,
    Feed,
    S,
    alerts,
    aoi,
    det,
    events,
    feedback,
    frame,
    loiter,
    make_engine,
    obj,
    schedule,
    speed,
    tripwire,
    zone,
)

from schemas.records import (
    AlertLifecycle,
    BBox,
    Detections,
    DirectionFilter,
    Feedback,
    FrameRef,
    SensorConfig,
    SensorEventKind,
)
from stream_processors.errors import SensorConfigError, SnapshotError
from stream_processors.rules import Engine, EngineOptions
from stream_processors.rules.grouping import Output

END = AlertLifecycle.END


def test_invalid_definition_is_rejected_and_the_old_one_kept() -> None:
    engine = make_engine(tripwire())
    bad = tripwire(points=((0.1, 0.1), (0.2, 0.2), (0.3, 0.3)))
    with pytest.raises(
        SensorConfigError, match=r"sensor 'line': points: a tripwire needs exactly 2 points, got 3"
    ):
        engine.on_sensor("line", bad)
    assert engine.sensors(CAM) == (tripwire(),)


def test_record_key_must_match_the_sensor_id() -> None:
    with pytest.raises(SensorConfigError, match="record key differs"):
        Engine().on_sensor("other", tripwire())


def test_tombstone_deletes_the_sensor_and_ends_its_alerts() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    feed.at(5.0, obj(1, 0.5, 0.5))
    out = feed.engine.on_sensor("zone", None)
    kinds = [
        (type(o).__name__, getattr(o, "lifecycle", None) or getattr(o, "kind", None)) for o in out
    ]
    # the zone is emptied (occupancy 0) and its open alert ends at the camera's event time
    assert kinds == [("SensorEvent", SensorEventKind.OCCUPANCY), ("Alert", END)]
    assert alerts(out)[0].updated_ts == T0 + 5 * S
    assert feed.engine.sensors(CAM) == ()
    assert feed.at(6.0, obj(2, 0.5, 0.5)) == []


def test_tombstone_of_an_unknown_sensor_is_a_no_op() -> None:
    assert Engine().on_sensor("nope", None) == []


def test_disabled_sensor_is_not_evaluated() -> None:
    feed = Feed(make_engine(zone(enabled=False)))
    assert feed.at(0.0, obj(1, 0.5, 0.5)) == []


def test_redefinition_keeping_geometry_keeps_state_and_alerts() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    assert feed.engine.on_sensor("zone", zone(min_score=0.1, severity=zone().severity)) == []
    feed.at(1.0, obj(1, 0.5, 0.5))  # still inside: no second enter
    assert len(events(feed.outputs, SensorEventKind.ZONE_ENTER)) == 1


def test_redefinition_with_new_geometry_starts_over() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    out = feed.engine.on_sensor(
        "zone", zone(points=((0.3, 0.3), (0.9, 0.3), (0.9, 0.9), (0.3, 0.9)))
    )
    assert [a.lifecycle for a in alerts(out)] == [END]
    feed.at(1.0, obj(1, 0.5, 0.5))
    assert len(events(feed.outputs, SensorEventKind.ZONE_ENTER)) == 2


def test_moving_a_sensor_to_another_camera() -> None:
    engine = make_engine(zone())
    engine.on_detections(det(T0, [obj(1, 0.5, 0.5)]))
    out = engine.on_sensor("zone", zone(camera_id="cam-2"))
    assert [a.lifecycle for a in alerts(out)] == [END]
    assert engine.sensors(CAM) == () and len(engine.sensors("cam-2")) == 1
    out = engine.on_detections(det(T0 + S, [obj(1, 0.5, 0.5)], camera="cam-2", seq=1))
    assert {e.camera_id for e in events(out)} == {"cam-2"}


def test_cameras_without_sensors_keep_no_state() -> None:
    engine = make_engine(zone())
    assert engine.on_detections(det(T0, [obj(1, 0.5, 0.5)], camera="other")) == []
    assert engine.on_frame(frame(T0, camera="other")) == []
    assert engine.advance("other", T0) == []
    assert engine.camera_ids == () and engine.snapshot("other") is None


def test_cameras_are_isolated() -> None:
    engine = make_engine(zone(), zone("z2", camera_id="cam-2"))
    a = engine.on_detections(det(T0, [obj(1, 0.5, 0.5)]))
    b = engine.on_detections(det(T0, [obj(1, 0.5, 0.5)], camera="cam-2"))
    assert {o.camera_id for o in a} == {CAM} and {o.camera_id for o in b} == {"cam-2"}
    assert engine.camera_ids == (CAM, "cam-2")


def test_snapshot_dirty_lists_changed_cameras_once() -> None:
    engine = make_engine(zone(), zone("z2", camera_id="cam-2"))
    engine.on_detections(det(T0, [obj(1, 0.5, 0.5)]))
    assert list(engine.snapshot_dirty()) == [CAM]
    assert engine.snapshot_dirty() == {}
    engine.on_frame(frame(T0, camera="cam-2"))
    engine.on_feedback(feedback("x"))
    assert list(engine.snapshot_dirty()) == [CAM, "cam-2"]


# -- replay determinism and snapshots ------------------------------------------------------

SENSORS = [
    zone("z-yard", occupancy_threshold=2, group_gap_s=3.0),
    zone("z-door", points=((0.0, 0.0), (0.4, 0.0), (0.4, 0.4), (0.0, 0.4)), group_gap_s=2.0),
    loiter("l-yard", seconds=2.0, group_gap_s=2.0),
    tripwire("t-mid", group_gap_s=2.0),
    tripwire("t-low", points=((0.0, 0.7), (1.0, 0.7)), direction=DirectionFilter.A_TO_B),
    aoi("aoi", points=((0.0, 0.0), (0.95, 0.0), (0.95, 1.0), (0.0, 1.0))),
    speed("s-mid", speed_kmh_threshold=10.0, max_seconds=5.0, group_gap_s=2.0),
    # T0 is 22:13:20 UTC: this one closes 40 s into a scenario
    zone("z-night", schedule=schedule(hours=[(22 * 60, 22 * 60 + 14)]), group_gap_s=1.0),
]
Input = Detections | FrameRef | Feedback


def scenario(
    steps: list[tuple[int, list[tuple[int, float, float, float]]]], cameras: int = 2
) -> list[Input]:
    """Inputs from generated steps: (kind, objects as (track, x, y, score))."""
    inputs: list[Input] = []
    t = 0
    for i, (kind, objs) in enumerate(steps):
        t += 400_000 + (i % 7) * 100_000
        cam = CAM if i % cameras == 0 else "cam-2"
        if kind == 0 or not objs:
            inputs.append(frame(T0 + t, seq=i, analysed=kind == 1, count=0, camera=cam))
        elif kind == 2 and i % 5 == 0:
            inputs.append(
                feedback(f"a{i}", boxes=(BBox(0.05, 0.05, 0.15, 0.25),), ts=T0 + t, camera=cam)
            )
        else:
            inputs.append(
                det(T0 + t, [obj(k, x, y, score=s) for k, x, y, s in objs], seq=i, camera=cam)
            )
    return inputs


def engine_for(options: dict[str, Any] | None = None) -> Engine:
    engine = Engine(EngineOptions(**(options or {"track_ttl_s": 0.5, "stationary_window_s": 1.0})))
    for cfg in SENSORS:
        engine.on_sensor(cfg.sensor_id, cfg)
        engine.on_sensor(
            cfg.sensor_id + ".2", replace(cfg, sensor_id=cfg.sensor_id + ".2", camera_id="cam-2")
        )
    return engine


def feed_all(engine: Engine, inputs: list[Input]) -> list[Output]:
    out: list[Output] = []
    for item in inputs:
        if isinstance(item, Detections):
            out.extend(engine.on_detections(item))
        elif isinstance(item, FrameRef):
            out.extend(engine.on_frame(item))
        else:
            engine.on_feedback(item)
    return out


track_obj = st.tuples(
    st.integers(1, 4), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.2, 1.0)
)
steps_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.lists(track_obj, max_size=4, unique_by=lambda o: o[0])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(steps=steps_strategy)
def test_replaying_the_same_input_gives_identical_outputs(steps: list[Any]) -> None:
    inputs = scenario(steps)
    assert feed_all(engine_for(), inputs) == feed_all(engine_for(), inputs)


@settings(max_examples=80, deadline=None)
@given(steps=steps_strategy, cut=st.floats(0.0, 1.0))
def test_snapshot_and_restore_mid_stream_gives_the_uninterrupted_outputs(
    steps: list[Any], cut: float
) -> None:
    inputs = scenario(steps)
    k = round(cut * len(inputs))
    whole = feed_all(engine_for(), inputs)
    first = engine_for()
    before = feed_all(first, inputs[:k])
    saved = {cid: first.snapshot(cid) for cid in first.camera_ids}
    second = engine_for()
    for cid, data in saved.items():
        second.restore(cid, data)
    after = feed_all(second, inputs[k:])
    assert before + after == whole


@settings(max_examples=40, deadline=None)
@given(steps=steps_strategy)
def test_snapshot_bytes_round_trip_exactly(steps: list[Any]) -> None:
    engine = engine_for()
    feed_all(engine, scenario(steps))
    for cid in engine.camera_ids:
        data = engine.snapshot(cid)
        copy = engine_for()
        copy.restore(cid, data)
        assert copy.snapshot(cid) == data


def test_redelivered_messages_after_restore_are_skipped() -> None:
    inputs = scenario([(3, [(1, 0.5, 0.5, 0.9)]), (3, [(1, 0.6, 0.5, 0.9)])], cameras=1)
    engine = engine_for()
    feed_all(engine, inputs)
    copy = engine_for()
    copy.restore(CAM, engine.snapshot(CAM))
    assert feed_all(copy, inputs) == []
    assert copy.counters.duplicate == 2


def test_restore_before_the_sensor_definitions_arrive() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    data = feed.engine.snapshot(CAM)
    fresh = Engine()
    fresh.restore(CAM, data)  # the runtime may restore before reading the sensors topic
    fresh.on_sensor("zone", zone())
    out = fresh.on_detections(det(T0 + S, [obj(1, 0.5, 0.5)], seq=5))
    assert events(out, SensorEventKind.ZONE_ENTER) == []  # still inside, no second entry


def test_restored_state_for_a_redrawn_sensor_is_dropped() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    data = feed.engine.snapshot(CAM)
    fresh = make_engine(zone(points=((0.3, 0.3), (0.9, 0.3), (0.9, 0.9), (0.3, 0.9))))
    fresh.restore(CAM, data)
    out = fresh.on_detections(det(T0 + S, [obj(1, 0.5, 0.5)], seq=5))
    assert len(events(out, SensorEventKind.ZONE_ENTER)) == 1


def test_restore_none_forgets_the_camera() -> None:
    engine = make_engine(zone())
    engine.on_detections(det(T0, [obj(1, 0.5, 0.5)]))
    engine.restore(CAM, None)
    assert engine.camera_ids == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'{"v": 99, "camera": "cam-1"}', "unknown state format 99"),
        (b"[1, 2]", "unknown state format None"),
        (b'{"v": 1, "camera": "cam-9"}', "belongs to camera 'cam-9'"),
        (b'{"v": 1, "camera": "cam-1", "clock": [1]}', "malformed state"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_unreadable_state_is_a_snapshot_error_and_the_camera_starts_fresh(
    data: bytes, message: str
) -> None:
    engine = make_engine(zone())
    engine.on_detections(det(T0, [obj(1, 0.5, 0.5)]))
    with pytest.raises(SnapshotError, match=message):
        engine.restore(CAM, data)
    assert engine.camera_ids == ()
    out = engine.on_detections(det(T0 + S, [obj(1, 0.5, 0.5)], seq=1))
    assert len(events(out, SensorEventKind.ZONE_ENTER)) == 1


def test_snapshot_is_compact_versioned_json() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    data = feed.engine.snapshot(CAM)
    assert data is not None
    state = json.loads(data)
    assert state["v"] == 1 and state["camera"] == CAM
    assert set(state) == {
        "v",
        "camera",
        "clock",
        "tracks",
        "parked",
        "rules",
        "groups",
        "fp",
        "alerts",
    }
    assert b" " not in data


def test_engine_options_apply_to_every_camera() -> None:
    engine = Engine(EngineOptions(track_ttl_s=10.0))
    assert engine.options.track_ttl_s == 10.0


def test_sensors_are_evaluated_in_id_order_whatever_the_arrival_order() -> None:
    a = make_engine(zone("b-zone"), zone("a-zone"))
    b = make_engine(zone("a-zone"), zone("b-zone"))
    out_a = a.on_detections(det(T0, [obj(1, 0.5, 0.5)]))
    out_b = b.on_detections(det(T0, [obj(1, 0.5, 0.5)]))
    assert out_a == out_b
    assert [e.sensor_id for e in events(out_a, SensorEventKind.ZONE_ENTER)] == ["a-zone", "b-zone"]


def test_definitions_are_kept_for_cameras_not_seen_yet() -> None:
    engine = make_engine(*(zone(f"z{i}", camera_id=f"c{i}") for i in range(50)))
    assert len(engine.camera_ids) == 0
    engine.on_detections(det(T0, [obj(1, 0.5, 0.5)], camera="c7"))
    assert list(engine.camera_ids) == ["c7"]


def test_sensor_config_records_round_trip_through_avro_datums() -> None:
    cfg = zone(schedule=schedule(days=[1], hours=[(60, 120)], tz="Europe/Paris"), labels=("car",))
    assert SensorConfig.from_avro(cfg.to_avro()) == cfg
    make_engine(SensorConfig.from_avro(cfg.to_avro()))
