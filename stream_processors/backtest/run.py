"""``run_backtest``: candidate sensors vs the sensors in force over recorded history.

Both replays feed the same records (frames and detections from the S3 archive, verdicts
from the feedback topic) through the pure rules core (``replay.py``) from an empty state at
``start_us``; they differ only in the sensor definitions.

Boundary: the processor's state at ``start_us`` (tracks, open alert groups, loiter clocks)
is not in the archive, so a range that starts mid-stream starts with none. Then an object
already inside a zone at ``start_us`` enters it at its first sighting, an alert that was
open is a new alert with a later start (another id), and loiter clocks restart. Alerts
that start after every camera's tracks and groups of before ``start_us`` have ended (a few
``track_ttl_s`` plus the sensors' ``group_gap_s``) are the same as live; a range that starts
at the cameras' first events (or after a quiet gap) reproduces the emitted alert ids exactly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from schemas import catalog
from schemas.records import Detections, FrameRef, SensorConfig
from schemas.serde import Serde
from stream_processors.backtest.replay import by_camera, replay
from stream_processors.backtest.report import BacktestReport, compare, false_positives
from stream_processors.backtest.settings import BacktestSettings
from stream_processors.backtest.source import ArchiveReader, read_feedback
from stream_processors.errors import BacktestError
from stream_processors.runtime import sensors_topic


@dataclass(frozen=True, slots=True)
class Timings:
    """Where a backtest's time went (seconds), for the CLI's ``-v`` and the bench."""

    read: float
    replay: float


def run_backtest(
    settings: BacktestSettings,
    sensors: Sequence[SensorConfig],
    *,
    start_us: int,
    end_us: int,
    camera_id: str | None = None,
    serde: Serde | None = None,
    in_force: Sequence[SensorConfig] | None = None,
    reader: ArchiveReader | None = None,
) -> BacktestReport:
    """Replay ``[start_us, end_us)`` with ``sensors`` and with the sensors in force; compare.

    The cameras are those of ``sensors`` (only ``camera_id`` when given). The sensors in
    force are the live definitions on the sensors topic (``in_force`` overrides that, for
    callers that already read it). A long-lived caller (the console) passes the same
    ``reader`` to every call: it keeps the decoded archive records between backtests.
    Raises :class:`BacktestError` when the archive cannot be read or the range is empty.
    """
    report, _ = run_backtest_timed(
        settings,
        sensors,
        start_us=start_us,
        end_us=end_us,
        camera_id=camera_id,
        serde=serde,
        in_force=in_force,
        reader=reader,
    )
    return report


def run_backtest_timed(
    settings: BacktestSettings,
    sensors: Sequence[SensorConfig],
    *,
    start_us: int,
    end_us: int,
    camera_id: str | None = None,
    serde: Serde | None = None,
    in_force: Sequence[SensorConfig] | None = None,
    reader: ArchiveReader | None = None,
) -> tuple[BacktestReport, Timings]:
    """:func:`run_backtest` and where its time went."""
    if end_us <= start_us:
        raise BacktestError(f"empty range: start {start_us} is not before end {end_us}")
    candidates = [s for s in sensors if camera_id is None or s.camera_id == camera_id]
    cameras = sorted({s.camera_id for s in candidates} | ({camera_id} if camera_id else set()))
    serde = serde if serde is not None else Serde.for_registry(settings)
    started = time.perf_counter()
    if in_force is None:
        in_force = list(sensors_topic.read_current(settings, serde).values())
    current = [s for s in in_force if s.camera_id in cameras]
    reader = reader if reader is not None else ArchiveReader(settings)
    t = settings.topics
    span = {"start_us": start_us, "end_us": end_us}
    frames = reader.records(serde.topic(catalog.FRAMES, FrameRef), t.frames, cameras, **span)
    detections = reader.records(
        serde.topic(catalog.DETECTIONS, Detections), t.detections, cameras, **span
    )
    feedback = read_feedback(settings, serde, cameras)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    records = by_camera(frames, detections)
    options = settings.engine_options()
    force_run = replay(current, records, feedback, options=options)
    cand_run = replay(candidates, records, feedback, options=options)
    fps = false_positives(feedback, {**cand_run.alerts, **force_run.alerts})
    results = compare(
        candidates, current, cand_run=cand_run, force_run=force_run, fps=fps, thr=options.fp_iou
    )
    report = BacktestReport(
        start_us=start_us,
        end_us=end_us,
        camera_id=camera_id,
        cameras=tuple(cameras),
        detections=force_run.detections,
        frames=force_run.frames,
        feedback=len(feedback),
        sensors=results,
        source=reader.location,
    )
    return report, Timings(read_s, time.perf_counter() - started)
