"""What the ``edge`` and ``cameras`` commands share: the console, common options, settings
loading and the run/report helpers."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from vidsight import settings as cfg
from vidsight.commands import config_file

if TYPE_CHECKING:
    from producers.config import Camera
    from producers.runner import CameraFeed, RunReport
    from producers.settings import EdgeSettings

console = Console(width=None if sys.stdout.isatty() else 160)

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="data dir of the local stack (env VIDSIGHT_DATA_DIR, default ./.vidsight)",
)


def _settings(ctx: click.Context, **overrides: Any) -> EdgeSettings:
    from producers.settings import EdgeSettings

    return cfg.load(EdgeSettings, config_file=config_file(ctx), **overrides)


def _install_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        console.print(f"signal {signal.Signals(signum).name}: stopping cameras and draining")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _print_report(report: RunReport, as_json: bool) -> None:
    cams = report.cameras
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    table = Table(title="edge run", title_justify="left")
    for col in (
        "camera",
        "state",
        "decoded",
        "sampled",
        "analysed",
        "objects",
        "events",
        "reconnects",
        "warm-ups",
        "lighting",
        "ghosts",
        "error",
    ):
        table.add_column(col)
    for c in cams:
        colour = {"failed": "red", "reconnecting": "yellow"}.get(c.state, "green")
        table.add_row(
            c.camera_id,
            f"[{colour}]{c.state}[/]",
            str(c.frames_decoded),
            str(c.frames_sampled),
            str(c.frames_analysed),
            str(c.objects),
            str(c.events),
            str(c.reconnects),
            str(c.motion_warmups),
            str(c.lighting_events),
            str(c.ghosts_absorbed),
            c.error or "",
        )
    console.print(table)
    if report.config is not None:
        console.print(f"cameras from {report.config}")
    ev = report.events
    console.print(
        f"events: delivered {report.delivered}, still spooled {ev.pending_records}, "
        f"evicted {ev.evicted_records}"
        + ("" if report.drained else " [yellow](not drained: kept for the next run)[/]")
    )
    if report.evidence is not None:
        console.print(
            f"evidence: uploaded {report.evidence_uploaded}, still spooled "
            f"{report.evidence.pending_records}, evicted {report.evidence.evicted_records}"
        )


def _run(
    settings: EdgeSettings,
    cameras: Sequence[Camera],
    duration: float | None,
    as_json: bool,
    feed: CameraFeed | None = None,
) -> None:
    from producers.runner import EdgeRunner

    stop = threading.Event()
    _install_signals(stop)
    report = EdgeRunner(settings, cameras, feed=feed).run(duration_s=duration, stop=stop)
    _print_report(report, as_json)
    if report.failed or not report.drained:
        sys.exit(1)


_RUN_OPTIONS = [
    _DATA_DIR,
    click.option(
        "--spool-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="store-and-forward directory (default <data-dir>/edge-spool)",
    ),
    click.option("--metrics-port", type=int, default=None, help="serve Prometheus /metrics"),
    click.option(
        "--drain-timeout",
        type=float,
        default=None,
        help="seconds to wait for spooled events at the end of a finite run",
    ),
    click.option("--duration", type=float, default=None, help="stop after this many seconds"),
    click.option("--json", "as_json", is_flag=True, help="print the run report as JSON"),
]


def _run_options(fn: Any) -> Any:
    for option in reversed(_RUN_OPTIONS):
        fn = option(fn)
    return fn
