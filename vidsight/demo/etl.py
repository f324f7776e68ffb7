"""The demo's last step: its hours of ``sensor_hourly`` and ``occupancy_heatmap`` on Dagster.

Launched like ``vidsight etl materialize --select sensor_hourly,occupancy_heatmap --partition
<hour>`` (the same code), one run per hour the scenes touched, so the runs are in the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dagster_project.launch import DagsterClient, RunOutcome, materialize
from etl.analytics.heatmap import png_key

DEMO_ASSETS = ("sensor_hourly", "occupancy_heatmap")

_ASSET_NODES = """query($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
  assetKey { path } } }"""


@dataclass(frozen=True, slots=True)
class DemoEtl:
    """What the demo's ETL step did."""

    hours: list[datetime]
    runs: list[RunOutcome] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Demo assets the code location does not define (the step was skipped)."""

    @property
    def ok(self) -> bool:
        return not self.missing and bool(self.runs) and all(r.ok for r in self.runs)


def demo_hours(since_us: int, end_us: int) -> list[datetime]:
    """The UTC hours that ``[since_us, end_us]`` touches (the hourly partitions to run)."""
    first = datetime.fromtimestamp(since_us / 1e6, UTC).replace(minute=0, second=0, microsecond=0)
    last = datetime.fromtimestamp(end_us / 1e6, UTC)
    hours = []
    while first <= last:
        hours.append(first)
        first += timedelta(hours=1)
    return hours


def partition_key(hour: datetime) -> str:
    return f"{hour:%Y-%m-%d-%H}:00"


def heatmap_png(camera_id: str, hour: datetime) -> str:
    return png_key(camera_id, hour)


def sensor_hourly_sql(hours: list[datetime]) -> str:
    first, last = hours[0], hours[-1]
    return (
        "SELECT hour, camera_id, sensor_id, crossings_a_to_b, crossings_b_to_a, entries, exits, "
        f"max_occupancy, dwell_p50_s, dwell_p95_s, alerts FROM sensor_hourly "
        f"WHERE hour BETWEEN '{first:%Y-%m-%d %H:%M:%S}' AND '{last:%Y-%m-%d %H:%M:%S}' "
        "ORDER BY hour, camera_id, sensor_id"
    )


def run_demo_etl(
    dagster_url: str,
    since_us: int,
    end_us: int,
    on_run: Callable[[RunOutcome], None] = lambda _: None,
    timeout_s: float = 600.0,
) -> DemoEtl:
    """Materialize the demo's hours; skipped (``missing``) when the assets are not defined."""
    hours = demo_hours(since_us, end_us)
    client = DagsterClient(dagster_url)
    try:
        found = client.query(_ASSET_NODES, {"keys": [{"path": [k]} for k in DEMO_ASSETS]})
        defined = {"/".join(n["assetKey"]["path"]) for n in found["assetNodes"]}
        missing = [k for k in DEMO_ASSETS if k not in defined]
        if missing:
            return DemoEtl(hours=hours, missing=missing)
        runs: list[RunOutcome] = []
        for hour in hours:
            runs += materialize(
                client,
                [",".join(DEMO_ASSETS)],
                partition=partition_key(hour),
                timeout_s=timeout_s,
                on_run=on_run,
            )
        return DemoEtl(hours=hours, runs=runs)
    finally:
        client.close()
