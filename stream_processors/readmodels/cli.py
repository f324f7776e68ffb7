"""``vidsight readmodels``: run a live read-model worker (faust) serving ``/state/...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stream_processors.readmodels.settings import ReadModelSettings
from vidsight import settings as cfg
from vidsight.commands import config_file
from vidsight.options import DATA_DIR_OPTION


@click.group("readmodels")
def readmodels_group() -> None:
    """Live read models: occupancy, crossings, open alerts, false-positive verdicts."""


@readmodels_group.command("run")
@DATA_DIR_OPTION
@click.option("--web-port", type=click.IntRange(1, 65535), default=None, help="HTTP port")
@click.option("--web-host", default=None, help="HTTP bind address and host other workers call")
@click.option("--app-id", default=None, help="faust app id (consumer group, changelog prefix)")
@click.option(
    "--fetch-max-wait-ms", type=click.IntRange(1, 10_000), default=None, help="broker fetch wait"
)
@click.pass_context
def run(ctx: click.Context, /, data_dir: Path | None, **overrides: Any) -> None:
    """Run one worker until interrupted; start more (other --web-port) to share the load.

    Each worker answers GET /state/occupancy/{camera}, /state/crossings/{camera}[/{sensor}]
    [?day=YYYY-MM-DD], /state/alerts/open/{camera} and /state/feedback/{camera} for every
    camera, forwarding to the worker that holds it.
    """
    from stream_processors.readmodels.runner import run_worker

    settings = cfg.load(
        ReadModelSettings,
        config_file=config_file(ctx),
        data_dir=data_dir,
        **overrides,
    )
    run_worker(settings)
