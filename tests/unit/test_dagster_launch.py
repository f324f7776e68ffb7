"""``vidsight etl materialize``'s pure parts: selections, times, partition ranges, waiting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from dagster import DailyPartitionsDefinition, Definitions, HourlyPartitionsDefinition, asset

from dagster_project import launch
from dagster_project.errors import LaunchError

HOURLY = HourlyPartitionsDefinition(start_date="2026-01-01-00:00", timezone="UTC")
DAILY = DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC")


@asset(partitions_def=HOURLY, key_prefix="ch")
def hourly() -> None: ...


@asset(partitions_def=DAILY)
def daily() -> None: ...


@asset
def plain() -> None: ...


DEFS = Definitions(assets=[hourly, daily, plain])


def test_parse_keys_splits_commas_and_paths() -> None:
    assert launch.parse_keys(["a,ch/hourly", " b "]) == [["a"], ["ch", "hourly"], ["b"]]
    with pytest.raises(LaunchError):
        launch.parse_keys([" , "])


def test_parse_time_naive_is_utc() -> None:
    assert launch.parse_time("2026-03-01T14:00") == datetime(2026, 3, 1, 14, tzinfo=UTC)
    with pytest.raises(LaunchError, match="ISO 8601"):
        launch.parse_time("yesterday")


def test_partition_ranges_per_asset_half_open() -> None:
    start, end = datetime(2026, 3, 1, 14, tzinfo=UTC), datetime(2026, 3, 3, 0, tzinfo=UTC)
    ranges = launch.partition_ranges([["ch", "hourly"], ["daily"]], start, end, DEFS)
    assert ranges == {
        ("ch", "hourly"): ("2026-03-01-14:00", "2026-03-02-23:00"),
        ("daily",): ("2026-03-02", "2026-03-02"),
    }
    with pytest.raises(LaunchError, match="not time-partitioned"):
        launch.partition_ranges([["plain"]], start, end, DEFS)
    with pytest.raises(LaunchError, match="unknown asset nope"):
        launch.partition_ranges([["nope"]], start, end, DEFS)


class _Client(launch.DagsterClient):
    """Answers from a script of backfill states (no server)."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        super().__init__("http://dagster.invalid")
        self.states = states

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def _run(run_id: str, status: str, partition: str) -> dict[str, Any]:
    return {
        "runId": run_id,
        "status": status,
        "tags": [{"key": "dagster/partition", "value": partition}],
    }


def test_backfill_wait_reports_each_run_once_then_the_failure() -> None:
    client = _Client(
        [
            {"status": "REQUESTED", "runs": [_run("r1", "STARTED", "h1")]},
            {
                "status": "REQUESTED",
                "runs": [_run("r1", "SUCCESS", "h1"), _run("r2", "QUEUED", "h2")],
            },
            {
                "status": "COMPLETED_FAILED",
                "runs": [_run("r1", "SUCCESS", "h1"), _run("r2", "FAILURE", "h2")],
            },
        ]
    )
    seen: list[launch.RunOutcome] = []
    out = launch._wait_backfill(client, "b1", deadline=1e12, poll_s=0, on_run=seen.append)
    assert [(r.run_id, r.status, r.partition) for r in seen] == [
        ("r1", "SUCCESS", "h1"),
        ("r2", "FAILURE", "h2"),
    ]
    assert out == seen
    assert out[1].url == "http://dagster.invalid/runs/r2"


def test_backfill_failing_before_any_run_is_a_failure() -> None:
    client = _Client([{"status": "FAILED", "runs": []}])
    out = launch._wait_backfill(client, "b9", deadline=1e12, poll_s=0, on_run=lambda _: None)
    assert [(r.run_id, r.ok, r.url) for r in out] == [
        ("b9", False, "http://dagster.invalid/runs/b/b9")
    ]


def test_materialize_refuses_partition_with_range() -> None:
    client = launch.DagsterClient("http://dagster.invalid")
    with pytest.raises(LaunchError, match="not both"):
        launch.materialize(
            client, ["a"], partition="x", start=datetime.now(UTC), end=datetime.now(UTC)
        )
    with pytest.raises(LaunchError, match="go together"):
        launch.materialize(client, ["a"], start=datetime.now(UTC))
