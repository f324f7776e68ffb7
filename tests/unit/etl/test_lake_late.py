"""The late-data sensor's core: an hour is rerun once per new late object, never without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from etl.lake.late import late_hours

H = datetime(2024, 5, 1, 10, tzinfo=UTC)
T = datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_late_object_reruns_its_hour_once() -> None:
    objects = [(H, T - timedelta(minutes=5)), (H + timedelta(hours=1), T + timedelta(minutes=1))]
    materialized = {H: T - timedelta(minutes=10), H + timedelta(hours=1): T}
    hours, cursor = late_hours(objects, materialized, None)
    assert hours == [H, H + timedelta(hours=1)]
    assert cursor == T + timedelta(minutes=1)
    # Same listing again: nothing new, no request, cursor unchanged.
    assert late_hours(objects, materialized, cursor) == ([], cursor)


def test_objects_older_than_the_materialization_or_never_materialized_are_not_late() -> None:
    objects = [(H, T), (H + timedelta(hours=2), T + timedelta(minutes=3))]
    hours, cursor = late_hours(objects, {H: T + timedelta(seconds=1)}, None)
    assert hours == []
    assert cursor == T + timedelta(minutes=3)
