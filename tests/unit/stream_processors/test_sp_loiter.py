"""Loitering: fires exactly N seconds of event time after entering, once per stay."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sp_helpers import T0, Feed, S, alerts, events, loiter, make_engine, obj

from schemas.records import AlertLifecycle, SensorEventKind

LOITER = SensorEventKind.LOITER


def loiters(feed: Feed) -> list[tuple[int | None, int, float | None]]:
    return [(e.track_id, e.ts - T0, e.dwell_s) for e in events(feed.outputs, LOITER)]


def stay(feed: Feed, seconds: list[float], track_id: int = 1, x: float = 0.5) -> None:
    for t in seconds:
        feed.at(t, obj(track_id, x, 0.5))


def test_fires_at_exactly_n_seconds_not_before() -> None:
    feed = Feed(make_engine(loiter(seconds=10.0)))
    stay(feed, [0.0, 5.0, 9.0, 9.999999])
    assert loiters(feed) == []
    stay(feed, [10.0])
    assert loiters(feed) == [(1, 10 * S, 10.0)]


def test_event_time_is_exact_even_between_frames() -> None:
    feed = Feed(make_engine(loiter(seconds=10.0)))
    stay(feed, [0.0, 3.3, 6.6, 9.9, 13.2])
    assert loiters(feed) == [(1, 10 * S, 10.0)]


def test_one_microsecond_early_does_not_fire() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0)))
    feed.at(0.0, obj(1, 0.5, 0.5))
    feed.advance(2.0 - 1e-6)
    assert loiters(feed) == []
    feed.advance(2.0)
    assert loiters(feed) == [(1, 2 * S, 2.0)]


def test_fires_once_per_stay() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0)))
    stay(feed, [t * 0.5 for t in range(20)])
    assert len(loiters(feed)) == 1


def test_leaving_and_coming_back_starts_a_new_stay() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0)))
    stay(feed, [0.0, 1.0, 2.5])  # fires at 2.0
    feed.at(3.0, obj(1, 0.95, 0.5))  # leaves
    stay(feed, [4.0, 5.0, 6.0])  # back at 4.0: fires at 6.0
    assert loiters(feed) == [(1, 2 * S, 2.0), (1, 6 * S, 2.0)]


def test_leaving_before_n_seconds_never_fires() -> None:
    feed = Feed(make_engine(loiter(seconds=5.0)))
    stay(feed, [0.0, 2.0, 4.0])
    feed.at(4.5, obj(1, 0.95, 0.5))
    feed.advance(100.0)
    assert loiters(feed) == []


def test_heartbeat_frames_fire_it_for_a_motionless_loiterer() -> None:
    # Nothing moves, so the detector does not run: only FrameRef heartbeats arrive.
    feed = Feed(make_engine(loiter(seconds=30.0), frame_lag_s=2.0))
    feed.at(0.0, obj(1, 0.5, 0.5))
    for t in range(1, 32):
        feed.frame(float(t))
    assert loiters(feed) == []
    feed.frame(32.0)  # watermark 30.0
    assert loiters(feed) == [(1, 30 * S, 30.0)]


def test_track_lost_after_the_due_time_still_fires() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0), track_ttl_s=3.0))
    feed.at(0.0, obj(1, 0.5, 0.5), obj(2, 0.05, 0.05))
    feed.at(1.0, obj(2, 0.05, 0.05))  # track 1 missing from here on: exits at 3.0
    feed.at(10.0, obj(2, 0.05, 0.05))
    assert loiters(feed) == [(1, 2 * S, 2.0)]


def test_track_lost_before_the_due_time_does_not_fire() -> None:
    feed = Feed(make_engine(loiter(seconds=5.0), track_ttl_s=3.0))
    feed.at(0.0, obj(1, 0.5, 0.5), obj(2, 0.05, 0.05))
    feed.at(1.0, obj(2, 0.05, 0.05))  # exits at 3.0, before 5.0
    feed.at(10.0, obj(2, 0.05, 0.05))
    assert loiters(feed) == []


def test_loiter_raises_an_alert() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0)))
    stay(feed, [0.0, 2.0])
    (alert,) = alerts(feed.outputs)
    assert (alert.kind, alert.lifecycle, alert.start_ts) == (LOITER, AlertLifecycle.NEW, T0 + 2 * S)
    assert alert.rule.value == "loitering"


def test_loitering_sensor_emits_no_enter_exit_events() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0)))
    feed.walk(1, [(0.1, 0.5), (0.5, 0.5), (0.9, 0.5)])
    assert events(feed.outputs) == []


def test_several_tracks_fire_independently() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0)))
    feed.at(0.0, obj(1, 0.3, 0.5))
    feed.at(1.0, obj(1, 0.3, 0.5), obj(2, 0.6, 0.5))
    feed.at(3.5, obj(1, 0.3, 0.5), obj(2, 0.6, 0.5))
    assert loiters(feed) == [(1, 2 * S, 2.0), (2, 3 * S, 2.0)]


def test_loiter_event_carries_the_last_sighting() -> None:
    feed = Feed(make_engine(loiter(seconds=2.0)))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.7))
    feed.at(1.0, obj(1, 0.52, 0.5, score=0.8), evidence="s3://vidsight/evidence/a.jpg")
    feed.at(3.0, obj(1, 0.54, 0.5, score=0.9))
    (e,) = events(feed.outputs, LOITER)
    assert e.score == pytest.approx(0.8)  # fired at 2.0, before the sighting at 3.0
    assert e.frame_seq == 2 and e.evidence_uri == "s3://vidsight/evidence/a.jpg"


@settings(max_examples=100, deadline=None)
@given(
    seconds=st.floats(0.5, 20.0),
    gaps=st.lists(st.floats(0.01, 3.0), min_size=1, max_size=40),
)
def test_exact_timing_whatever_the_frame_spacing(seconds: float, gaps: list[float]) -> None:
    feed = Feed(make_engine(loiter(seconds=seconds)))
    t = 0.0
    feed.at(t, obj(1, 0.5, 0.5))
    for g in gaps:
        t += g
        feed.at(t, obj(1, 0.5, 0.5))
    n_us = round(seconds * S)
    expected = [(1, n_us, n_us / S)] if round(t * S) >= n_us else []
    assert loiters(feed) == expected
