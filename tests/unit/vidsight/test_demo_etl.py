"""The demo's ETL step: which hourly partitions a run touches, what it tells the user."""

from __future__ import annotations

from datetime import UTC, datetime

from vidsight.demo.etl import demo_hours, heatmap_png, partition_key, sensor_hourly_sql


def _us(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1_000_000)


def test_hours_touched_by_the_scenes() -> None:
    assert demo_hours(_us(2026, 3, 1, 14, 10), _us(2026, 3, 1, 14, 11)) == [
        datetime(2026, 3, 1, 14, tzinfo=UTC)
    ]
    assert demo_hours(_us(2026, 3, 1, 23, 59, 30), _us(2026, 3, 2, 0, 0, 30)) == [
        datetime(2026, 3, 1, 23, tzinfo=UTC),
        datetime(2026, 3, 2, 0, tzinfo=UTC),
    ]


def test_partition_key_png_key_and_query() -> None:
    hour = datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert partition_key(hour) == "2026-03-01-09:00"
    assert heatmap_png("cam-1", hour) == "reports/heatmaps/cam-1/2026/03/01/09.png"
    query = sensor_hourly_sql([hour, datetime(2026, 3, 1, 10, tzinfo=UTC)])
    assert "FROM sensor_hourly" in query
    assert "BETWEEN '2026-03-01 09:00:00' AND '2026-03-01 10:00:00'" in query
