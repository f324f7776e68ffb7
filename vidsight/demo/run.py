"""One demo run: apply the site's configuration, run the pipeline, read the stores back."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from producers.config import load_cameras, to_record
from producers.publish import publish_camera_configs
from producers.settings import EdgeSettings
from schemas import catalog
from schemas.records import CrossingDirection, now_micros
from schemas.serde import Serde
from sinks.settings import SinkSettings
from stream_processors.runtime import sensors_topic
from stream_processors.runtime.settings import ProcessorSettings
from vidsight.demo.pipeline import PipelineResult, Progress, run_pipeline
from vidsight.demo.site import DemoSite, expected_by_camera
from vidsight.demo.summary import Summary, summarize


@dataclass(frozen=True, slots=True)
class DemoRun:
    """A finished run: what ran, what the stores hold, what the ground truth says."""

    site: DemoSite
    site_file: Path
    since_us: int
    """Scene time 0 of every camera: the run's events are the ones at or after it."""
    sensor_changes: int
    pipeline: PipelineResult
    summary: Summary
    expected: dict[str, Counter[CrossingDirection]]

    @property
    def crossings_match(self) -> bool:
        """ClickHouse's crossings equal the scenes' ground truth, camera by camera."""
        return all(self.summary.crossings.get(c) == n for c, n in self.expected.items())


def apply_site(
    site: DemoSite, path: Path, edge: EdgeSettings, processor: ProcessorSettings
) -> tuple[int, int]:
    """Write the site file and apply it as a user would (cameras apply + sensors apply).

    Returns how many camera and sensor records were published.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(site.yaml())
    now = now_micros()
    cameras = [to_record(c, now) for c in load_cameras(path)]
    publish_camera_configs(edge, cameras)
    desired, scope = sensors_topic.load_file(path, updated_ts=now)
    serde = Serde.for_registry(processor)
    changes = sensors_topic.plan(sensors_topic.read_current(processor, serde), desired, scope)
    return len(cameras), sensors_topic.publish(processor, serde, changes)


RERUN_GAP_US = 10_000_000
"""Event time between a run's last event and the next run's first: the processor ends the
last run's tracks (zone exits, due loiters) a few seconds after their last sighting
(``track_ttl_s``), and those events belong before this run, not in its summary."""


def scene_start(site: DemoSite, clock_file: Path | None) -> int:
    """Event time of scene time 0, so that this run's events follow every earlier run's.

    The cameras render faster than real time, so a run's events span ``duration_s`` of event
    time in a few seconds of wall time. Ending the scenes about now keeps event times in the
    past; starting after the previous run's last event keeps each camera's event time moving
    forward, which the rules need (an earlier frame after a later one is out of order).
    """
    longest = max(c.duration_s for c in site.cameras)
    start = now_micros() - round(longest * 1_000_000)
    if clock_file is not None and clock_file.exists():
        try:
            last_end = int(json.loads(clock_file.read_text())["last_event_us"])
        except (ValueError, KeyError, TypeError):
            last_end = 0  # a damaged file only costs the ordering guarantee of one rerun
        start = max(start, last_end + RERUN_GAP_US)
    return start


def _remember_end(site: DemoSite, clock_file: Path | None, start_us: int) -> None:
    if clock_file is None:
        return
    end = start_us + round(max(c.duration_s for c in site.cameras) * 1_000_000)
    clock_file.parent.mkdir(parents=True, exist_ok=True)
    clock_file.write_text(json.dumps({"last_event_us": end}) + "\n")


def run_demo(
    site: DemoSite,
    *,
    site_file: Path,
    clock_file: Path | None = None,
    edge: EdgeSettings,
    processor: ProcessorSettings,
    sinks: SinkSettings,
    on_progress: Callable[[Progress], None] | None = None,
    settle_s: float = 3.0,
    timeout_s: float = 600.0,
) -> DemoRun:
    """Apply ``site``, run its cameras through the whole pipeline and summarise the stores.

    ``clock_file`` keeps the event time of the last run, for reruns on the same stack.
    """
    n_cameras, n_sensors = apply_site(site, site_file, edge, processor)
    since_us = scene_start(site, clock_file)
    wall_start_us = now_micros()
    # Remembered before the run: a run that fails half way has published events up to here.
    _remember_end(site, clock_file, since_us)
    result = run_pipeline(
        site.edge_cameras(since_us),
        edge,
        processor,
        sinks,
        config_records={catalog.CONFIG_CAMERAS: n_cameras, catalog.CONFIG_SENSORS: n_sensors},
        on_progress=on_progress,
        frames_expected=sum(c.frames for c in site.cameras),
        settle_s=settle_s,
        timeout_s=timeout_s,
    )
    return DemoRun(
        site=site,
        site_file=site_file,
        since_us=since_us,
        sensor_changes=n_sensors,
        pipeline=result,
        summary=summarize(sinks, site.camera_ids, since_us, wall_start_us),
        expected=expected_by_camera(site),
    )
