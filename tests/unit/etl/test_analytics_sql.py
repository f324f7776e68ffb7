"""SQL builders: identifiers validated, times only from aware datetimes, idempotent replace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from etl.analytics import sql
from etl.errors import EtlError

HOUR = datetime(2024, 5, 6, 13, tzinfo=UTC)


@pytest.mark.parametrize("name", ["vidsight; DROP TABLE x", "a.b", "1db", "", "db`"])
def test_identifiers_are_refused_unless_plain(name: str) -> None:
    with pytest.raises(EtlError):
        sql.sensor_hourly(name, HOUR)


def test_times_must_be_utc_hour_starts() -> None:
    with pytest.raises(EtlError):
        sql.sensor_hourly("vidsight", datetime(2024, 5, 6, 13))  # naive
    with pytest.raises(EtlError):
        sql.heatmap_cells("vidsight", datetime(2024, 5, 6, 13, 30, tzinfo=UTC))


def test_replace_deletes_the_hour_synchronously_before_inserting() -> None:
    delete, insert = sql.replace_hour(
        "vidsight", "heatmap_cells", HOUR, sql.heatmap_cells("vidsight", HOUR)
    )
    assert delete == (
        "ALTER TABLE vidsight.heatmap_cells DELETE WHERE hour = "
        "toDateTime('2024-05-06 13:00:00', 'UTC') SETTINGS mutations_sync = 2"
    )
    assert insert.startswith("INSERT INTO vidsight.heatmap_cells")
    assert "frame_ts >= toDateTime64('2024-05-06 13:00:00.000000', 6, 'UTC')" in insert
    assert "frame_ts < toDateTime64('2024-05-06 14:00:00.000000', 6, 'UTC')" in insert


def test_every_table_is_created_idempotently() -> None:
    stmts = sql.create_all("vidsight")
    assert stmts[0] == "CREATE DATABASE IF NOT EXISTS vidsight"
    assert all(s.startswith("CREATE TABLE IF NOT EXISTS vidsight.") for s in stmts[1:])
    assert {s.split()[5].split(".")[1] for s in stmts[1:]} == set(sql.TABLES)


def test_column_names_keep_types_with_commas_whole() -> None:
    assert sql.columns("camera_health_daily") == [
        "day", "camera_id", "fps_configured", "frames", "expected_frames", "uptime", "gaps",
        "gap_seconds", "longest_gap_start", "longest_gap_s", "detection_rate", "outlier_hours",
    ]  # fmt: skip
    assert sql.columns("storage_usage") == [
        "day", "store", "object", "camera_id", "bytes", "items"
    ]  # fmt: skip
