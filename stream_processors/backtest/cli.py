"""``vidsight sensors backtest FILE``: what FILE's sensors would have done over recorded history.

Prints per sensor the sensor events, alerts and alerts matching operator false positives,
for FILE's definition and for the one in force, and the alert ids one raises that the
other does not. ``--json`` prints the report as one JSON document.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from schemas.records import now_micros
from stream_processors.backtest.report import BacktestReport, RunFigures
from stream_processors.backtest.run import run_backtest
from stream_processors.backtest.settings import BacktestSettings
from stream_processors.config import load_sensors
from stream_processors.errors import BacktestError, SensorConfigError
from stream_processors.tail import format_time
from vidsight import settings as cfg
from vidsight.commands import config_file
from vidsight.options import DATA_DIR_OPTION

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_SPAN_S = 86400
"""Range when --from is not given: the 24 hours before --to."""


def parse_time(text: str, *, now_us: int) -> int:
    """UTC microseconds of ``now``, ``-90m``/``-24h``/``-2d`` (before now), an ISO 8601 time
    (UTC when it names no zone) or a plain integer of microseconds."""
    text = text.strip()
    if text == "now":
        return now_us
    if text.isdigit():
        return int(text)
    m = _RELATIVE.match(text)
    if m:
        return now_us - round(float(m[1]) * _UNIT_S[m[2]] * 1_000_000)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give now, -24h (s/m/h/d before now), an ISO 8601 time or microseconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return round(when.timestamp() * 1_000_000)


def _figures(f: RunFigures | None) -> str:
    if f is None:
        return f"{'-':>6} {'-':>6} {'-':>6}"
    return f"{f.sensor_events:>6} {f.alerts:>6} {f.false_positive_matches:>6}"


def format_report(report: BacktestReport) -> list[str]:
    """The text lines ``vidsight sensors backtest`` prints."""
    lines = [
        f"backtest {format_time(report.start_us)} .. {format_time(report.end_us)} "
        f"from {report.source}: {report.detections} detections, {report.frames} frames, "
        f"{report.feedback} verdicts, cameras {', '.join(report.cameras) or '-'}",
        f"{'sensor':<28} {'camera':<20} {'change':<9} "
        f"{'events':>6} {'alerts':>6} {'FP':>6} | {'events':>6} {'alerts':>6} {'FP':>6}  diff",
        f"{'':<59}{'candidate':^20} | {'in force':^20}",
    ]
    for s in report.sensors:
        lines.append(
            f"{s.sensor_id:<28} {s.camera_id:<20} {s.change:<9} "
            f"{_figures(s.candidate)} | {_figures(s.in_force)}  "
            f"+{len(s.alerts_added)} -{len(s.alerts_removed)}"
        )
    return lines


@click.command("backtest")
@DATA_DIR_OPTION
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--from", "from_", default=None, help="range start (default: 24h before --to)")
@click.option("--to", "to", default="now", show_default=True, help="range end (excluded)")
@click.option("--camera", default=None, help="only this camera's sensors")
@click.option("--json", "as_json", is_flag=True, help="the report as one JSON document")
@click.pass_context
def sensors_backtest(  # noqa: PLR0917 (click passes options positionally by name)
    ctx: click.Context,
    data_dir: Path | None,
    file: Path,
    from_: str | None,
    to: str,
    camera: str | None,
    as_json: bool,
) -> None:
    """Replay the archived detections of a range with FILE's sensors and with those in force.

    Exit status 1 when FILE is invalid or the archive cannot be read.
    """
    now = now_micros()
    end_us = parse_time(to, now_us=now)
    start_us = (
        end_us - DEFAULT_SPAN_S * 1_000_000 if from_ is None else parse_time(from_, now_us=now)
    )
    try:
        sensors = load_sensors(file, updated_ts=now)
        settings = cfg.load(BacktestSettings, config_file=config_file(ctx), data_dir=data_dir)
        report = run_backtest(settings, sensors, start_us=start_us, end_us=end_us, camera_id=camera)
    except (SensorConfigError, BacktestError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(report.to_json())
    else:
        for line in format_report(report):
            click.echo(line)
