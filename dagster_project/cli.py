"""``vidsight etl``: run Dagster assets on the stack's instance from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dagster_project.launch import DagsterClient, RunOutcome, materialize, parse_time
from infra.stack.settings import StackSettings
from vidsight import settings as cfg
from vidsight.commands import config_file
from vidsight.options import DATA_DIR_OPTION


def webserver_url(ctx: click.Context, data_dir: Path | None) -> str:
    """The Dagster webserver of the stack in ``data_dir`` (host and port from its stack.json)."""
    s = cfg.load(StackSettings, config_file=config_file(ctx), data_dir=data_dir)
    return f"http://{s.host}:{s.ports.dagster}"


def print_run(run: RunOutcome) -> None:
    part = f" partition={run.partition}" if run.partition else ""
    click.echo(f"run {run.run_id} {run.status}{part} {run.url}")


@click.group("etl")
def etl_group() -> None:
    """Dagster assets of vidsight, run on the stack's Dagster instance (listed in its UI)."""


@etl_group.command("materialize")
@DATA_DIR_OPTION
@click.option(
    "--select",
    "select",
    multiple=True,
    required=True,
    help="asset keys, comma-separated or repeated; path parts joined by / (clickhouse/alerts)",
)
@click.option("--partition", default=None, help="one partition key (2026-03-01-14:00)")
@click.option("--from", "start", default=None, help="backfill from this UTC time (ISO 8601)")
@click.option("--to", "end", default=None, help="... up to (not including) this UTC time")
@click.option("--timeout", "timeout_s", default=1800.0, show_default=True, help="seconds to wait")
@click.option("--url", default=None, help="Dagster webserver URL (default: the stack's)")
@click.pass_context
def materialize_command(
    ctx: click.Context,
    *,
    data_dir: Path | None,
    select: tuple[str, ...],
    partition: str | None,
    start: str | None,
    end: str | None,
    timeout_s: float,
    url: str | None,
) -> None:
    """Launch runs of the selected assets (one run or a backfill) and wait for them.

    One run, or one run per partition of --from..--to (a backfill). Prints each run's id,
    status and UI link; exits 1 when any run did not succeed.
    """
    client = DagsterClient(url or webserver_url(ctx, data_dir))
    try:
        runs = materialize(
            client,
            select,
            partition=partition,
            start=parse_time(start) if start else None,
            end=parse_time(end) if end else None,
            timeout_s=timeout_s,
            on_launch=lambda link: click.echo(f"launched {link}"),
            on_run=print_run,
        )
    finally:
        client.close()
    failed = [r for r in runs if not r.ok]
    click.echo(f"{len(runs) - len(failed)} of {len(runs)} run(s) succeeded")
    if failed or not runs:
        sys.exit(1)
