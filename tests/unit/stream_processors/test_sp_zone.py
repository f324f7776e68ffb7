"""Zones: enter/exit with hysteresis, concave polygons, occupancy counts and threshold alerts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sp_helpers import T0, Feed, S, alerts, events, make_engine, obj, zone

from schemas.records import AlertLifecycle, SensorEventKind

ENTER = SensorEventKind.ZONE_ENTER
EXIT = SensorEventKind.ZONE_EXIT
OCC = SensorEventKind.OCCUPANCY
U_SHAPE = (
    (0.2, 0.2),
    (0.4, 0.2),
    (0.4, 0.5),
    (0.6, 0.5),
    (0.6, 0.2),
    (0.8, 0.2),
    (0.8, 0.8),
    (0.2, 0.8),
)


def kinds(feed: Feed) -> list[SensorEventKind]:
    return [e.kind for e in events(feed.outputs)]


def test_enter_then_exit() -> None:
    feed = Feed(make_engine(zone()))
    feed.walk(1, [(0.1, 0.5), (0.5, 0.5), (0.6, 0.5), (0.9, 0.5)])
    assert kinds(feed) == [ENTER, OCC, EXIT, OCC]
    enter, occ1, leave, occ0 = events(feed.outputs)
    assert enter.ts == T0 + 200_000
    assert leave.dwell_s == pytest.approx(0.4)
    assert (occ1.count, occ0.count) == (1, 0)
    assert occ1.track_id is None and occ1.anchor is None and occ1.label == "*"


def test_object_appearing_inside_enters() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    assert kinds(feed) == [ENTER, OCC]


def test_anchor_is_the_bottom_centre_of_the_box() -> None:
    feed = Feed(make_engine(zone()))
    # Box top is inside the zone, its bottom-centre is below it: not inside.
    feed.at(0.0, obj(1, 0.5, 0.9, h=0.5))
    assert kinds(feed) == []
    feed.at(0.2, obj(1, 0.5, 0.7, h=0.5))
    assert kinds(feed) == [ENTER, OCC]


@pytest.mark.parametrize("jitter", [0.001, 0.004])
def test_jitter_on_the_edge_does_not_flicker(jitter: float) -> None:
    feed = Feed(make_engine(zone()))
    feed.walk(1, [(0.1, 0.5)] + [(0.2 + (jitter if i % 2 else -jitter), 0.5) for i in range(20)])
    assert kinds(feed) == []
    feed.walk(1, [(0.3, 0.5)] + [(0.2 + (jitter if i % 2 else -jitter), 0.5) for i in range(20)])
    assert kinds(feed) == [ENTER, OCC]


def test_concave_zone_notch_is_outside() -> None:
    feed = Feed(make_engine(zone(points=U_SHAPE)))
    feed.walk(1, [(0.5, 0.3), (0.5, 0.4)])  # inside the notch: outside the zone
    assert kinds(feed) == []
    feed.walk(1, [(0.5, 0.6)])
    assert kinds(feed) == [ENTER, OCC]
    feed.walk(1, [(0.5, 0.3)])
    assert kinds(feed)[-2:] == [EXIT, OCC]


def test_occupancy_counts_every_track_inside_once_per_instant() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.3, 0.5), obj(2, 0.4, 0.5), obj(3, 0.9, 0.9))
    occ = events(feed.outputs, OCC)
    assert [o.count for o in occ] == [2]
    assert occ[0].score == pytest.approx(0.9)
    feed.at(0.2, obj(1, 0.3, 0.5), obj(2, 0.95, 0.5), obj(3, 0.5, 0.5))
    # one left, one came: the count did not change, so no occupancy event
    assert [o.count for o in events(feed.outputs, OCC)] == [2]


def test_occupancy_label_names_the_labels_counted() -> None:
    feed = Feed(make_engine(zone(labels=("person", "car"))))
    feed.at(0.0, obj(1, 0.5, 0.5))
    assert events(feed.outputs, OCC)[0].label == "person,car"


def test_occupancy_score_is_the_top_score_inside() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.3, 0.5, score=0.6), obj(2, 0.4, 0.5, score=0.8))
    assert events(feed.outputs, OCC)[0].score == pytest.approx(0.8)


def test_zone_enter_alerts_by_default() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    (alert,) = alerts(feed.outputs)
    assert alert.kind is ENTER and alert.lifecycle is AlertLifecycle.NEW
    assert alert.track_ids == (1,)


def test_exit_never_alerts() -> None:
    feed = Feed(make_engine(zone(group_gap_s=1.0)))
    feed.walk(1, [(0.5, 0.5), (0.9, 0.5)])
    assert [a.lifecycle for a in alerts(feed.outputs)] == [AlertLifecycle.NEW]


def test_counting_zone_alerts_on_the_threshold_not_on_entries() -> None:
    feed = Feed(make_engine(zone(occupancy_threshold=2, group_gap_s=5.0)))
    feed.at(0.0, obj(1, 0.3, 0.5))
    assert alerts(feed.outputs) == []
    feed.at(1.0, obj(1, 0.3, 0.5), obj(2, 0.4, 0.5))
    (alert,) = alerts(feed.outputs)
    assert alert.kind is OCC and alert.lifecycle is AlertLifecycle.NEW
    assert alert.start_ts == T0 + 1 * S


def test_occupancy_alert_is_held_while_at_the_threshold() -> None:
    feed = Feed(make_engine(zone(occupancy_threshold=2, group_gap_s=5.0)))
    feed.at(0.0, obj(1, 0.3, 0.5), obj(2, 0.4, 0.5))
    for t in range(1, 60):  # a minute at the threshold, no occupancy change
        feed.at(t, obj(1, 0.3, 0.5), obj(2, 0.4, 0.5))
    assert [a.lifecycle for a in alerts(feed.outputs)] == [AlertLifecycle.NEW]
    feed.at(60.0, obj(1, 0.3, 0.5), obj(2, 0.9, 0.5))  # drops below
    feed.at(64.8, obj(1, 0.3, 0.5))
    assert [a.lifecycle for a in alerts(feed.outputs)] == [AlertLifecycle.NEW]
    feed.at(65.0, obj(1, 0.3, 0.5))
    end = alerts(feed.outputs)[-1]
    assert end.lifecycle is AlertLifecycle.END
    assert end.end_ts == T0 + 60 * S and end.updated_ts == T0 + 65 * S


def test_track_lost_inside_exits_at_last_seen_plus_ttl() -> None:
    feed = Feed(make_engine(zone(), track_ttl_s=3.0))
    feed.at(0.0, obj(1, 0.5, 0.5), obj(2, 0.1, 0.1))
    feed.at(1.0, obj(1, 0.5, 0.5), obj(2, 0.1, 0.1))
    feed.at(2.0, obj(2, 0.1, 0.1))  # track 1 missing from here on
    feed.at(3.9, obj(2, 0.1, 0.1))
    assert kinds(feed) == [ENTER, OCC]
    feed.at(4.0, obj(2, 0.1, 0.1))
    leave, occ = events(feed.outputs)[-2:]
    assert (leave.kind, leave.ts, leave.dwell_s) == (EXIT, T0 + 4 * S, 1.0)
    assert (occ.kind, occ.count, occ.ts) == (OCC, 0, T0 + 4 * S)


def test_idle_detector_keeps_tracks_since_nothing_moved() -> None:
    feed = Feed(make_engine(zone(), track_ttl_s=3.0, frame_lag_s=0.0))
    feed.at(0.0, obj(1, 0.5, 0.5))
    for t in range(1, 60):
        feed.frame(t)  # sampled but not analysed: no motion
    assert kinds(feed) == [ENTER, OCC]


def test_empty_analysed_frame_proves_absence() -> None:
    feed = Feed(make_engine(zone(), track_ttl_s=3.0, frame_lag_s=0.0))
    feed.at(0.0, obj(1, 0.5, 0.5))
    feed.frame(1.0, analysed=True, count=0)
    feed.frame(2.9)
    assert kinds(feed) == [ENTER, OCC]
    feed.frame(3.0)
    assert kinds(feed) == [ENTER, OCC, EXIT, OCC]
    assert events(feed.outputs)[-1].ts == T0 + 3 * S


def test_analysed_frame_with_objects_is_not_absence_evidence() -> None:
    feed = Feed(make_engine(zone(), track_ttl_s=3.0, frame_lag_s=0.0))
    feed.at(0.0, obj(1, 0.5, 0.5))
    feed.frame(1.0, analysed=True, count=2)  # its Detections message may still be on the way
    feed.frame(10.0)
    assert kinds(feed) == [ENTER, OCC]


def test_stale_tracks_are_dropped_without_evidence() -> None:
    feed = Feed(make_engine(zone(), track_stale_s=60.0, frame_lag_s=0.0))
    feed.at(0.0, obj(1, 0.5, 0.5))
    feed.frame(59.0)
    assert kinds(feed) == [ENTER, OCC]
    feed.frame(60.0)
    assert kinds(feed)[-2:] == [EXIT, OCC]
    assert events(feed.outputs)[-1].ts == T0 + 60 * S


def test_frames_are_lagged_so_a_late_detection_keeps_the_track() -> None:
    feed = Feed(make_engine(zone(), track_ttl_s=3.0, frame_lag_s=2.0))
    feed.at(0.0, obj(1, 0.5, 0.5), obj(2, 0.1, 0.1))
    feed.at(1.0, obj(2, 0.1, 0.1))
    feed.frame(4.5)  # watermark 2.5: track 1 (last seen 0, ttl 3) survives
    assert kinds(feed) == [ENTER, OCC]
    feed.frame(5.0)
    assert kinds(feed)[-2:] == [EXIT, OCC]


def test_exits_of_several_tracks_are_ordered_by_time() -> None:
    feed = Feed(make_engine(zone(), track_ttl_s=1.0, frame_lag_s=0.0))
    feed.at(0.0, obj(1, 0.3, 0.5), obj(2, 0.4, 0.5))
    feed.at(0.5, obj(2, 0.4, 0.5))
    feed.frame(0.6, analysed=True)
    feed.frame(10.0)
    tail = events(feed.outputs)[-4:]
    assert [(e.kind, e.track_id, e.count) for e in tail] == [
        (EXIT, 1, None),
        (OCC, None, 1),
        (EXIT, 2, None),
        (OCC, None, 0),
    ]
    assert [e.ts for e in tail] == [T0 + S, T0 + S, T0 + 1_500_000, T0 + 1_500_000]


def test_occupancy_event_ids_are_unique() -> None:
    feed = Feed(make_engine(zone(), track_ttl_s=1.0))
    for t in range(40):
        objs = [obj(i, 0.3 + 0.1 * (i % 3), 0.5) for i in range(t % 4)]
        feed.at(t * 0.5, *objs)
    ids = [e.event_id for e in events(feed.outputs)]
    assert len(ids) == len(set(ids))


@settings(max_examples=100, deadline=None)
@given(path=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=30))
def test_enters_and_exits_alternate_and_occupancy_follows(path: list[tuple[float, float]]) -> None:
    feed = Feed(make_engine(zone(points=U_SHAPE)))
    feed.walk(1, path)
    evs = [e.kind for e in events(feed.outputs) if e.kind is not OCC]
    assert all(a != b for a, b in itertools.pairwise(evs))
    assert not evs or evs[0] is ENTER
    counts = [e.count for e in events(feed.outputs, OCC)]
    assert counts == [1 if k is ENTER else 0 for k in evs]


def test_distinct_zones_do_not_share_state() -> None:
    feed = Feed(
        make_engine(
            zone("left", points=((0, 0), (0.5, 0), (0.5, 1), (0, 1))),
            zone("right", points=((0.5, 0), (1, 0), (1, 1), (0.5, 1))),
        )
    )
    feed.walk(1, [(0.2, 0.5), (0.8, 0.5)])
    assert [(e.sensor_id, e.kind) for e in events(feed.outputs) if e.kind is not OCC] == [
        ("left", ENTER),
        ("left", EXIT),
        ("right", ENTER),
    ]
