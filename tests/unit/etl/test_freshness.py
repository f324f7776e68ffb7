"""Freshness of a source is judged only while cameras are active."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from etl.freshness import Camera, active_cameras, judge

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
LAG = timedelta(hours=2)


def test_active_cameras_are_the_enabled_ones_with_a_frame_rate() -> None:
    cams = [Camera("b", True, 5.0), Camera("off", False, 5.0), Camera("a", True, 1.0),
            Camera("still", True, 0.0)]  # fmt: skip
    assert active_cameras(cams) == ["a", "b"]


def test_no_active_camera_skips_even_a_store_without_data() -> None:
    for cams in ([], [Camera("off", False, 5.0)], [Camera("still", True, 0.0)]):
        v = judge("mongo/detections", None, NOW, LAG, active_cameras(cams))
        assert (v.passed, v.skipped, v.lag_s) == (True, True, None)
        assert v.description == "mongo/detections: skipped, no active camera (no data expected)"
    old = judge("s3/archive", NOW - timedelta(days=3), NOW, LAG, [])
    assert (old.passed, old.skipped) == (True, True)


def test_stale_source_fails_while_a_camera_is_active() -> None:
    v = judge("clickhouse/detections", NOW - timedelta(hours=2, seconds=1), NOW, LAG, ["a"])
    assert (v.passed, v.skipped, v.lag_s) == (False, False, 7201.0)
    assert v.description == (
        "clickhouse/detections: newest event 2024-05-01 09:59:59 UTC, lag 7201s beyond 7200s "
        "(1 active cameras)"
    )


def test_fresh_source_passes_at_the_bound() -> None:
    v = judge("clickhouse/detections", NOW - LAG, NOW, LAG, ["a", "b"])
    assert (v.passed, v.skipped, v.lag_s) == (True, False, 7200.0)


def test_no_data_while_cameras_are_active_fails() -> None:
    v = judge("postgres/alerts", None, NOW, LAG, ["a", "b"])
    assert (v.passed, v.skipped) == (False, False)
    assert v.description == "postgres/alerts: no data while 2 cameras are active"
