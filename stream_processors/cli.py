"""Commands of the stream processors, attached to ``vidsight`` as four groups:

- ``vidsight process run``: the detections-path worker;
- ``vidsight sensors apply FILE``: publish a YAML file's sensor definitions;
- ``vidsight sensors backtest FILE``: what FILE's sensors would have done (backtest/cli.py);
- ``vidsight alerts tail``: the operator's live view of the alerts topic;
- ``vidsight feedback mark|list``: operator verdicts (feedback_cli.py).

``python -m stream_processors.cli`` runs the same groups without the rest of ``vidsight``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from schemas.records import Alert, now_micros
from schemas.serde import Serde
from stream_processors.backtest.cli import sensors_backtest
from stream_processors.errors import SensorConfigError
from stream_processors.feedback_cli import feedback_group
from stream_processors.runtime.settings import ProcessorSettings
from vidsight import settings as cfg
from vidsight.commands import config_file, root_group
from vidsight.kafka.clients import REAL_CLIENTS
from vidsight.kafka.shutdown import stop_on_signals
from vidsight.options import DATA_DIR_OPTION

IDLE_OPTION = click.option(
    "--exit-when-idle",
    "exit_when_idle",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="exit once no record arrived for this long (default: run until stopped)",
)


def _settings(ctx: click.Context, data_dir: Path | None, **overrides: Any) -> ProcessorSettings:
    return cfg.load(ProcessorSettings, config_file=config_file(ctx), data_dir=data_dir, **overrides)


# ---- process -----------------------------------------------------------------------------


@click.group(name="process")
def process_group() -> None:
    """The detections-path stream processor (rules -> sensor events and alerts)."""


@process_group.command("run")
@DATA_DIR_OPTION
@IDLE_OPTION
@click.option("--group-id", default=None, help="consumer group (setting group_id)")
@click.option(
    "--metrics-port", type=click.IntRange(0, 65535), default=None, help="Prometheus port (0: off)"
)
@click.pass_context
def process_run(
    ctx: click.Context,
    data_dir: Path | None,
    exit_when_idle: float | None,
    group_id: str | None,
    metrics_port: int | None,
) -> None:
    """Run one worker: detections + frames in, sensor events + alerts out, until stopped."""
    from stream_processors.runtime.worker import Processor

    settings = _settings(ctx, data_dir, group_id=group_id, metrics_port=metrics_port)
    with stop_on_signals(threading.Event()) as stop:
        processor = Processor(settings, stop=stop, clients=REAL_CLIENTS)
        if settings.metrics_port:
            processor.metrics.serve(settings.metrics_port, settings.metrics_host)
        stats = processor.run(exit_when_idle_s=exit_when_idle)
    click.echo(
        f"processed {stats.consumed} records: {stats.sensor_events} sensor events, "
        f"{stats.alerts} alert messages, {stats.dead_letters} dead letters, "
        f"{stats.checkpoints} checkpoints"
    )


# ---- sensors -----------------------------------------------------------------------------


@click.group(name="sensors")
def sensors_group() -> None:
    """Sensor definitions on the vidsight.config.sensors topic."""


@sensors_group.command("apply")
@DATA_DIR_OPTION
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="show what would change, publish nothing")
@click.option(
    "--allow-move",
    is_flag=True,
    help="let FILE move existing sensors to another camera (refused by default)",
)
@click.pass_context
def sensors_apply(
    ctx: click.Context, data_dir: Path | None, file: Path, dry_run: bool, allow_move: bool
) -> None:
    """Publish FILE's sensors; delete the sensors of its cameras that FILE no longer has.

    Exit status 1 when FILE is invalid (the message names file:line, sensor and field) or
    when it would move a sensor of another camera without --allow-move.
    """
    from stream_processors.runtime import sensors_topic as st

    try:
        desired, cameras = st.load_file(file, updated_ts=now_micros())
    except SensorConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    settings = _settings(ctx, data_dir)
    serde = Serde.for_registry(settings)
    changes = st.plan(st.read_current(settings, serde), desired, cameras)
    for change in changes:
        click.echo(change.describe())
    moved = st.moves(changes)
    if moved and not allow_move:
        for change in moved:
            click.echo(
                f"error: {file}: sensor {change.sensor_id!r} belongs to camera "
                f"{change.from_camera!r}; this file would move it to camera {change.camera_id!r}",
                err=True,
            )
        click.echo(
            "nothing published: sensor ids are global; give the sensor another id, or pass "
            "--allow-move to move it",
            err=True,
        )
        sys.exit(1)
    if dry_run:
        click.echo("dry run: nothing published")
        return
    n = st.publish(settings, serde, changes)
    click.echo(f"published {n} change(s) to {settings.topics.sensors}")


sensors_group.add_command(sensors_backtest)


# ---- alerts ------------------------------------------------------------------------------


@click.group(name="alerts")
def alerts_group() -> None:
    """Alerts as operators see them."""


@alerts_group.command("tail")
@DATA_DIR_OPTION
@IDLE_OPTION
@click.option("--from-beginning", is_flag=True, help="start at the oldest alert, not the newest")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line (Avro names)")
@click.pass_context
def alerts_tail(
    ctx: click.Context,
    data_dir: Path | None,
    exit_when_idle: float | None,
    from_beginning: bool,
    as_json: bool,
) -> None:
    """Print alerts as they arrive (new, update, end), one line or JSON object each.

    Text lines have a header: time, alert id, camera, sensor, rule, label, lifecycle, score,
    severity, evidence. JSON lines keep the Avro field names, times in ISO 8601 UTC.
    Only alerts written after the start unless --from-beginning.
    """
    from schemas.catalog import schema_dict
    from stream_processors.tail import (
        HEADER,
        alert_json,
        format_alert,
        tail_alerts,
        timestamp_fields,
    )

    settings = _settings(ctx, data_dir)
    times = timestamp_fields(schema_dict("Alert"))
    if not as_json:
        click.echo(HEADER)

    def show(alert: Alert, datum: Mapping[str, Any]) -> None:
        click.echo(alert_json(datum, times) if as_json else format_alert(alert))

    with stop_on_signals(threading.Event()) as stop:
        tail_alerts(
            settings,
            Serde.for_registry(settings),
            show,
            from_beginning=from_beginning,
            exit_when_idle_s=exit_when_idle,
            stop=stop,
        )


# ---- standalone --------------------------------------------------------------------------


cli = root_group(
    "stream_processors",
    "The stream processors' commands without the rest of vidsight.",
    [process_group, sensors_group, alerts_group, feedback_group],
)


def main() -> None:
    """Entry point of ``python -m stream_processors.cli``."""
    cli()


if __name__ == "__main__":
    main()
