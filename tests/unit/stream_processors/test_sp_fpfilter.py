"""False-positive filtering in order, each suppression counted: score, median, inertia, size,
ratio, area of interest, stationary objects, learned suppression from operator feedback."""

from __future__ import annotations

import pytest
from sp_helpers import CAM, T0, Feed, alerts, aoi, events, feedback, make_engine, obj, zone

from schemas.records import BBox, SensorEventKind, Verdict
from stream_processors.rules import SuppressionCounters
from stream_processors.rules.fpmemory import WILDCARD, FalsePositiveMemory

ENTER = SensorEventKind.ZONE_ENTER


def entered(feed: Feed) -> list[int | None]:
    return [e.track_id for e in events(feed.outputs, ENTER)]


def test_min_score_per_frame() -> None:
    feed = Feed(make_engine(zone(min_score=0.5), median_threshold=0.0))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.49))
    assert entered(feed) == []
    feed.at(0.2, obj(1, 0.5, 0.5, score=0.5))
    assert entered(feed) == [1]
    assert feed.engine.counters.min_score == 1


def test_median_of_the_score_history_defaults_to_min_score() -> None:
    feed = Feed(make_engine(zone(min_score=0.5)))
    # One good frame after several weak ones: the per-frame score passes, the median does not.
    for i, score in enumerate([0.3, 0.3, 0.3, 0.3, 0.9]):
        feed.at(i * 0.2, obj(1, 0.1, 0.1, score=score))
    feed.at(1.0, obj(1, 0.5, 0.5, score=0.9))
    assert entered(feed) == []
    # counted per (sighting, sensor), wherever the object is: frame 4 and frame 5
    assert feed.engine.counters.median_score == 2
    feed.at(1.2, obj(1, 0.5, 0.5, score=0.9))
    feed.at(1.4, obj(1, 0.5, 0.5, score=0.9))
    assert entered(feed) == [1]


def test_median_threshold_option_overrides() -> None:
    feed = Feed(make_engine(zone(min_score=0.1), median_threshold=0.8))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.7))
    assert entered(feed) == [] and feed.engine.counters.median_score == 1


def test_score_history_is_bounded() -> None:
    feed = Feed(make_engine(zone(min_score=0.5), score_history=3))
    for i, score in enumerate([0.1, 0.1, 0.1, 0.9, 0.9]):
        feed.at(i * 0.2, obj(1, 0.1, 0.1, score=score))
    feed.at(1.0, obj(1, 0.5, 0.5, score=0.9))  # history now 0.9, 0.9, 0.9
    assert entered(feed) == [1]


def test_inertia_needs_consecutive_frames() -> None:
    feed = Feed(make_engine(zone(inertia_frames=3)))
    feed.at(0.0, obj(1, 0.5, 0.5))
    feed.at(0.2, obj(1, 0.5, 0.5))
    assert entered(feed) == []
    feed.at(0.4, obj(1, 0.5, 0.5))
    assert entered(feed) == [1]
    assert feed.engine.counters.inertia == 2


def test_a_missed_frame_restarts_inertia() -> None:
    feed = Feed(make_engine(zone(inertia_frames=3)))
    feed.at(0.0, obj(1, 0.5, 0.5))
    feed.at(0.2, obj(1, 0.5, 0.5))
    feed.at(0.4, obj(2, 0.05, 0.05))  # analysed frame without track 1
    feed.at(0.6, obj(1, 0.5, 0.5))
    feed.at(0.8, obj(1, 0.5, 0.5))
    assert entered(feed) == []
    feed.at(1.0, obj(1, 0.5, 0.5))
    assert entered(feed) == [1]


@pytest.mark.parametrize(
    ("w", "h", "passes"),
    [(0.1, 0.2, True), (0.01, 0.01, False), (0.5, 0.5, False), (0.1, 0.1, True), (0.2, 0.25, True)],
)
def test_area_bounds(w: float, h: float, passes: bool) -> None:
    feed = Feed(make_engine(zone(min_area=0.005, max_area=0.05)))
    feed.at(0.0, obj(1, 0.5, 0.5, w=w, h=h))
    assert entered(feed) == ([1] if passes else [])
    assert feed.engine.counters.area == (0 if passes else 1)


@pytest.mark.parametrize(
    ("w", "h", "passes"), [(0.1, 0.2, True), (0.3, 0.1, False), (0.02, 0.2, False)]
)
def test_ratio_bounds(w: float, h: float, passes: bool) -> None:
    feed = Feed(make_engine(zone(min_ratio=0.25, max_ratio=1.0)))
    feed.at(0.0, obj(1, 0.5, 0.5, w=w, h=h))
    assert entered(feed) == ([1] if passes else [])
    assert feed.engine.counters.ratio == (0 if passes else 1)


def test_first_failing_filter_is_the_one_counted() -> None:
    feed = Feed(make_engine(zone(min_score=0.5, inertia_frames=5, min_area=0.5)))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.1))
    c = feed.engine.counters
    assert (c.min_score, c.median_score, c.inertia, c.area) == (1, 0, 0, 0)


def test_each_sensor_counts_its_own_rejection() -> None:
    feed = Feed(make_engine(zone("z1", min_score=0.5), zone("z2", min_score=0.5)))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.1))
    assert feed.engine.counters.min_score == 2


def test_label_mismatch_is_not_a_suppression() -> None:
    feed = Feed(make_engine(zone(labels=("car",))))
    feed.at(0.0, obj(1, 0.5, 0.5, label="person"))
    assert entered(feed) == []
    assert sum(feed.engine.counters.as_dict().values()) == 0


def test_area_of_interest_drops_objects_outside_for_every_sensor() -> None:
    whole = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    left = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    feed = Feed(make_engine(zone(points=whole), aoi(points=left)))
    feed.at(0.0, obj(1, 0.3, 0.5), obj(2, 0.7, 0.5))
    assert entered(feed) == [1]
    assert feed.engine.counters.aoi == 1


def test_several_areas_of_interest_are_a_union() -> None:
    whole = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    left = ((0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0))
    right = ((0.7, 0.0), (1.0, 0.0), (1.0, 1.0), (0.7, 1.0))
    feed = Feed(make_engine(zone(points=whole), aoi("a1", points=left), aoi("a2", points=right)))
    feed.at(0.0, obj(1, 0.1, 0.5), obj(2, 0.5, 0.5), obj(3, 0.9, 0.5))
    assert entered(feed) == [1, 3]


def test_inactive_area_of_interest_restricts_nothing() -> None:
    from sp_helpers import schedule

    whole = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    left = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    night = schedule(hours=[(1 * 60, 2 * 60)])  # T0 is 22:13 UTC
    feed = Feed(make_engine(zone(points=whole), aoi(points=left, schedule=night)))
    feed.at(0.0, obj(1, 0.7, 0.5))
    assert entered(feed) == [1]


def test_track_becomes_stationary_after_the_window_without_moving() -> None:
    from stream_processors.rules.tracks import Track

    t = Track(1, "car", 5)
    box = (0.4, 0.4, 0.5, 0.6)
    for i, ts in enumerate([0, 4_000_000, 9_999_999]):
        t.observe(i, ts, i, None, "car", 0.9, *box, 0.9, 10_000_000)
    assert not t.stationary
    t.observe(3, 10_000_000, 3, None, "car", 0.9, 0.401, 0.4, 0.501, 0.6, 0.9, 10_000_000)
    assert t.stationary  # IoU ~0.98 with the reference box: has not moved
    t.observe(4, 11_000_000, 4, None, "car", 0.9, 0.45, 0.4, 0.55, 0.6, 0.9, 10_000_000)
    assert not t.stationary  # moved half a box: the window starts again


def test_stationary_sighting_publishes_events_but_raises_no_alert() -> None:
    from sp_helpers import schedule

    # A car parked in the zone before the schedule opens (T0 is 22:13 UTC; open from 22:20).
    opening = schedule(hours=[(22 * 60 + 20, 23 * 60)])
    feed = Feed(make_engine(zone(schedule=opening), stationary_window_s=60.0))
    for t in range(0, 8 * 60, 10):
        feed.at(float(t), obj(1, 0.5, 0.5))
    assert entered(feed) == [1]  # it is in the zone (occupancy and read models see it)
    assert alerts(feed.outputs) == []  # but it did not arrive: nothing to alert
    assert feed.engine.counters.stationary == 1


def test_loiterer_who_walks_in_and_stands_still_alerts() -> None:
    from sp_helpers import loiter

    feed = Feed(make_engine(loiter(seconds=30.0), stationary_window_s=5.0))
    feed.walk(1, [(0.1, 0.5), (0.5, 0.5)])
    for t in range(1, 40):
        feed.at(float(t), obj(1, 0.5, 0.5))
    assert len(alerts(feed.outputs)) == 1
    assert feed.engine.counters.stationary == 0


def test_parked_object_reacquired_in_a_loiter_zone_does_not_re_alert() -> None:
    from sp_helpers import loiter

    feed = Feed(
        make_engine(loiter(seconds=10.0, group_gap_s=5.0), stationary_window_s=5.0, track_ttl_s=1.0)
    )
    feed.walk(1, [(0.1, 0.5), (0.5, 0.5)])
    for t in range(1, 20):
        feed.at(float(t), obj(1, 0.5, 0.5))  # loiter alert at 10.2
    feed.at(20.0, obj(50, 0.05, 0.05))
    feed.at(22.0, obj(50, 0.05, 0.05))  # track 1 gone, its box remembered as parked
    for t in range(23, 60):
        feed.at(float(t), obj(50, 0.05, 0.05), obj(2, 0.5, 0.5))  # same car, new id
    assert [e.track_id for e in events(feed.outputs, SensorEventKind.LOITER)] == [1, 2]
    assert [a.track_ids for a in alerts(feed.outputs) if a.lifecycle.value == "new"] == [(1,)]
    assert feed.engine.counters.stationary == 1


def test_object_that_stops_in_a_loiter_zone_does_not_re_alert_when_reacquired() -> None:
    feed = Feed(make_engine(zone(group_gap_s=2.0), stationary_window_s=5.0, track_ttl_s=1.0))
    feed.walk(1, [(0.1, 0.5), (0.5, 0.5)])  # drives in: alert
    for t in range(1, 12):
        feed.at(float(t), obj(1, 0.5, 0.5))  # parks; stationary after 5 s
    assert feed.engine.counters.stationary == 0
    feed.at(12.0, obj(50, 0.05, 0.05))  # the parked car is not detected any more
    feed.at(14.0, obj(50, 0.05, 0.05))  # track 1 expires, its box is remembered
    feed.at(15.0, obj(50, 0.05, 0.05), obj(2, 0.5, 0.5))  # re-detected under a new id
    assert entered(feed) == [1, 2]
    assert feed.engine.counters.stationary == 1
    news = [a for a in alerts(feed.outputs) if a.lifecycle.value == "new"]
    assert len(news) == 1


def test_parked_memory_expires() -> None:
    feed = Feed(
        make_engine(
            zone(group_gap_s=2.0), stationary_window_s=5.0, track_ttl_s=1.0, parked_memory_s=10.0
        )
    )
    for t in range(12):
        feed.at(float(t), obj(1, 0.5, 0.5))
    feed.at(12.0, obj(50, 0.05, 0.05))
    feed.at(14.0, obj(50, 0.05, 0.05))  # track 1 gone at 12.0 (11 + ttl), remembered until 22.0
    feed.at(30.0, obj(2, 0.5, 0.5))
    assert feed.engine.counters.stationary == 0
    assert len([a for a in alerts(feed.outputs) if a.lifecycle.value == "new"]) == 2


def learn_fp(feed: Feed, boxes: tuple[BBox, ...] = (), ts: int = T0) -> str:
    first = alerts(feed.outputs)[0]
    feed.engine.on_feedback(feedback(first.alert_id, boxes=boxes, ts=ts))
    return first.alert_id


def test_learned_suppression_from_the_alerts_own_box() -> None:
    feed = Feed(make_engine(zone(group_gap_s=1.0)))
    feed.at(0.0, obj(1, 0.5, 0.5))  # a flag waving, detected as a person
    learn_fp(feed)
    feed.at(10.0, obj(2, 0.505, 0.5))  # new track, same place
    assert entered(feed) == [1]
    assert feed.engine.counters.learned_fp == 1
    feed.at(11.0, obj(3, 0.3, 0.3))  # elsewhere: not suppressed
    assert entered(feed) == [1, 3]


def test_learned_suppression_is_per_label() -> None:
    feed = Feed(make_engine(zone(group_gap_s=1.0)))
    feed.at(0.0, obj(1, 0.5, 0.5, label="person"))
    learn_fp(feed)
    feed.at(10.0, obj(2, 0.5, 0.5, label="car"))
    assert entered(feed) == [1, 2]


def test_learned_suppression_from_operator_boxes() -> None:
    feed = Feed(make_engine(zone(group_gap_s=1.0)))
    feed.at(0.0, obj(1, 0.5, 0.5))
    learn_fp(feed, boxes=(BBox(0.6, 0.4, 0.7, 0.6),))
    feed.at(10.0, obj(2, 0.5, 0.5), obj(3, 0.65, 0.6))
    assert entered(feed) == [1, 2]


def test_true_positive_verdict_lifts_the_suppression() -> None:
    feed = Feed(make_engine(zone(group_gap_s=1.0)))
    feed.at(0.0, obj(1, 0.5, 0.5))
    aid = learn_fp(feed)
    feed.engine.on_feedback(feedback(aid, Verdict.TRUE_POSITIVE, ts=T0 + 1))
    feed.at(10.0, obj(2, 0.5, 0.5))
    assert entered(feed) == [1, 2]


def test_older_verdict_arriving_late_does_not_undo_a_newer_one() -> None:
    feed = Feed(make_engine(zone(group_gap_s=1.0)))
    feed.at(0.0, obj(1, 0.5, 0.5))
    aid = learn_fp(feed, ts=T0 + 10)
    feed.engine.on_feedback(feedback(aid, Verdict.TRUE_POSITIVE, ts=T0 + 5))
    feed.at(10.0, obj(2, 0.5, 0.5))
    assert entered(feed) == [1]


def test_feedback_on_an_unknown_alert_without_boxes_is_counted_and_ignored() -> None:
    feed = Feed(make_engine(zone()))
    feed.engine.on_feedback(feedback("00000000-0000-0000-0000-000000000000"))
    assert feed.engine.counters.feedback_unresolved == 1
    feed.at(0.0, obj(1, 0.5, 0.5))
    assert entered(feed) == [1]


def test_feedback_on_an_unknown_alert_with_boxes_applies_to_every_label() -> None:
    feed = Feed(make_engine(zone()))
    feed.engine.on_feedback(feedback("unknown", boxes=(BBox(0.45, 0.3, 0.55, 0.5),)))
    feed.at(0.0, obj(1, 0.5, 0.5, label="car"), obj(2, 0.3, 0.5, label="car"))
    assert entered(feed) == [2]


def test_feedback_is_per_camera() -> None:
    feed = Feed(make_engine(zone(), zone("z2", camera_id="cam-2")))
    feed.engine.on_feedback(feedback("x", boxes=(BBox(0.45, 0.3, 0.55, 0.5),), camera="cam-2"))
    feed.at(0.0, obj(1, 0.5, 0.5))
    assert entered(feed) == [1]


def test_fp_memory_is_bounded() -> None:
    memory = FalsePositiveMemory(2)
    for i in range(3):
        memory.apply(feedback(f"a{i}", ts=i), "person", ((0.1 * i, 0.0, 0.1 * i + 0.05, 0.05),))
    assert not memory.matches("person", (0.0, 0.0, 0.05, 0.05), 0.9)
    assert memory.matches("person", (0.2, 0.0, 0.25, 0.05), 0.9)


def test_fp_memory_rebuilds_from_feedback_alone() -> None:
    records = [
        (feedback("a", ts=1), "person", ((0.1, 0.1, 0.2, 0.2),)),
        (feedback("b", ts=2), WILDCARD, ((0.5, 0.5, 0.6, 0.6),)),
        (feedback("a", Verdict.TRUE_POSITIVE, ts=3), "person", ((0.1, 0.1, 0.2, 0.2),)),
    ]
    memory = FalsePositiveMemory(10)
    for fb, label, boxes in records:
        memory.apply(fb, label, boxes)
    assert not memory.matches("person", (0.1, 0.1, 0.2, 0.2), 0.5)
    assert memory.matches("car", (0.5, 0.5, 0.6, 0.6), 0.5)
    copy = FalsePositiveMemory(10)
    copy.load_state(memory.to_state())
    assert copy.to_state() == memory.to_state()
    assert bool(copy) and copy.matches("dog", (0.5, 0.5, 0.6, 0.6), 0.5)


def test_unknown_verdict_suppresses_nothing() -> None:
    memory = FalsePositiveMemory(10)
    memory.apply(feedback("a", Verdict.UNKNOWN), "person", ((0.1, 0.1, 0.2, 0.2),))
    assert not memory


def test_reopening_a_false_positive_lifts_its_suppression_older_reopen_does_not() -> None:
    box = (0.1, 0.1, 0.2, 0.2)
    memory = FalsePositiveMemory(10)
    memory.apply(feedback("a", Verdict.FALSE_POSITIVE, ts=2), "person", (box,))
    memory.apply(feedback("a", Verdict.UNKNOWN, ts=1), "person", (box,))  # late, older
    assert memory.matches("person", box, 0.5)
    memory.apply(feedback("a", Verdict.UNKNOWN, ts=3), "person", (box,))  # reopened
    assert not memory.matches("person", box, 0.5)


def test_counters_export_and_reset() -> None:
    c = SuppressionCounters(aoi=2, inertia=1)
    assert c.as_dict()["aoi"] == 2 and set(c.as_dict()) >= {"min_score", "learned_fp", "stationary"}
    c.reset()
    assert sum(c.as_dict().values()) == 0


def test_duplicate_detections_are_skipped_and_counted() -> None:
    feed = Feed(make_engine(zone()))
    feed.at(0.0, obj(1, 0.5, 0.5))
    first = list(feed.outputs)
    from sp_helpers import det

    again = feed.engine.on_detections(det(T0, [obj(1, 0.5, 0.5)], seq=1, camera=CAM))
    assert again == [] and feed.engine.counters.duplicate == 1
    assert feed.outputs == first
