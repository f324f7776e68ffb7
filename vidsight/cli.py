"""The ``vidsight`` command line: one entry point, sub-commands per domain."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

# Each process kind's settings class registers its keys when imported; with every kind known, keys
# of another kind in a shared --config file are told apart from unknown ones (vidsight/settings/).
import dagster_project.analytics_settings  # noqa: F401
import etl.retention.policy  # noqa: F401
import schemas.registry.settings  # noqa: F401
from dagster_project.cli import etl_group
from infra.stack.settings import StackSettings
from producers.cli import cameras as cameras_group
from producers.cli import edge as edge_group
from schemas.cli import schemas_group
from sinks.cli import replay_command, sink_group, sql_command
from stream_processors.cli import alerts_group, process_group, sensors_group
from stream_processors.feedback_cli import feedback_group
from stream_processors.readmodels.cli import readmodels_group
from vidsight import settings as cfg
from vidsight.clip_cli import alerts_clip
from vidsight.commands import config_file, root_group
from vidsight.console.cli import console_command
from vidsight.demo.cli import demo as demo_command
from vidsight.options import DATA_DIR_OPTION

console = Console(width=None if sys.stdout.isatty() else 160)

main = root_group(
    "vidsight", "vidsight: event-sourced video analytics on Kafka, Avro and four stores."
)


def stack_settings(ctx: click.Context, data_dir: Path | None) -> StackSettings:
    return cfg.load(StackSettings, config_file=config_file(ctx), data_dir=data_dir)


def endpoint_settings(ctx: click.Context, data_dir: Path | None = None) -> cfg.Endpoints:
    return cfg.load(cfg.Endpoints, config_file=config_file(ctx), data_dir=data_dir)


# ---- the local stack ---------------------------------------------------------------------------


def _status_table(statuses: list[Any]) -> Table:
    table = Table(title="vidsight local stack", title_justify="left")
    for col in ("part", "endpoint", "healthy", "pid", "RSS MiB", "note"):
        table.add_column(col)
    for st in statuses:
        note = st.error or st.extra.get("mode", "")
        if not st.error and "database" in st.extra:
            note = f"{st.extra['mode']}, database {st.extra['database']}"
        if st.name == "s3":
            note = f"bucket={st.extra['bucket']} key={st.extra['access_key']}"
        table.add_row(
            st.name,
            st.url,
            "[green]yes[/]" if st.healthy else "[red]no[/]",
            str(st.pid or "-"),
            f"{st.rss_bytes / 2**20:.0f}" if st.rss_bytes else "-",
            note,
        )
    return table


@main.command()
@DATA_DIR_OPTION
@click.option("--only", multiple=True, help="start only these parts (repeatable)")
@click.option("--skip", multiple=True, help="do not start these parts (repeatable)")
@click.pass_context
def up(
    ctx: click.Context, data_dir: Path | None, only: tuple[str, ...], skip: tuple[str, ...]
) -> None:
    """Start the embedded local stack on loopback (idempotent)."""
    from infra.stack import Stack
    from infra.stack.parts import PART_ORDER

    settings = stack_settings(ctx, data_dir)
    names = [n for n in (only or PART_ORDER) if n not in skip]
    started = time.monotonic()
    with console.status("starting the local stack..."):
        statuses = Stack(settings, names).up()
    console.print(_status_table(statuses))
    console.print(
        f"ready in {time.monotonic() - started:.1f}s; data in {settings.data_dir.resolve()}"
    )


@main.command()
@DATA_DIR_OPTION
@click.pass_context
def down(ctx: click.Context, data_dir: Path | None) -> None:
    """Stop what `vidsight up` started (data is kept)."""
    from infra.stack import Stack

    stopped = Stack(stack_settings(ctx, data_dir)).down()
    if stopped:
        console.print("stopped: " + ", ".join(stopped))
    else:
        console.print("nothing is running")


@main.command()
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="one JSON object keyed by part")
@click.pass_context
def status(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """Probe every part; exit 1 when any is unhealthy."""
    from infra.stack import Stack

    statuses = Stack(stack_settings(ctx, data_dir)).status()
    if as_json:
        click.echo(json.dumps({st.name: st.as_json() for st in statuses}))
    else:
        console.print(_status_table(statuses))
    if not all(st.healthy for st in statuses):
        sys.exit(1)


@main.command()
@DATA_DIR_OPTION
@click.argument("part", required=False)
@click.option("-n", "--lines", default=40, show_default=True, help="lines per part")
@click.option("-f", "--follow", is_flag=True, help="keep printing new lines (one part)")
@click.pass_context
def logs(
    ctx: click.Context, data_dir: Path | None, part: str | None, lines: int, follow: bool
) -> None:
    """Show the log of one part (or the end of every part's log)."""
    from infra.stack import Stack
    from infra.stack.parts import PART_ORDER
    from infra.stack.process import tail

    stack = Stack(stack_settings(ctx, data_dir))
    if part is None:
        if follow:
            raise click.UsageError("--follow needs a PART")
        for name in PART_ORDER:
            text = tail(stack.log_path(name), lines)
            if text:
                click.echo(f"==> {name} <==\n{text}\n")
        return
    path = stack.log_path(part)
    click.echo(tail(path, lines))
    if follow:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            while True:
                chunk = fh.read()
                if chunk:
                    click.echo(chunk.decode(errors="replace"), nl=False)
                else:
                    time.sleep(0.5)


# ---- topics ------------------------------------------------------------------------------------


@main.group()
def topics() -> None:
    """The Kafka topic catalog."""


@topics.command("create")
@DATA_DIR_OPTION
@click.option(
    "--replication-factor",
    default=1,
    show_default=True,
    type=click.IntRange(1, 32),
    help="copies of each partition (1 on the local broker; 3 on a production cluster)",
)
@click.pass_context
def topics_create(ctx: click.Context, data_dir: Path | None, replication_factor: int) -> None:
    """Create every catalog topic with its partitions and configs (idempotent)."""
    from schemas.topics import create_topics

    settings = endpoint_settings(ctx.find_root(), data_dir)
    results = create_topics(settings.kafka_client_config(), replication_factor=replication_factor)
    table = Table(title=f"topics on {settings.kafka_bootstrap}", title_justify="left")
    for col in ("topic", "partitions", "outcome"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, str(r.partitions), r.outcome + (f" ({r.detail})" if r.detail else ""))
    console.print(table)
    if any(r.outcome == "mismatch" for r in results):
        sys.exit(1)


@topics.command("list")
@DATA_DIR_OPTION
@click.pass_context
def topics_list(ctx: click.Context, data_dir: Path | None) -> None:
    """List the broker's topics and partition counts."""
    from schemas.topics import list_topics

    settings = endpoint_settings(ctx.find_root(), data_dir)
    for name, count in list_topics(settings.kafka_client_config()).items():
        click.echo(f"{name}\t{count}")


# Each domain package owns its commands; the root group only collects them.
main.add_command(schemas_group)
main.add_command(edge_group)
main.add_command(cameras_group)
main.add_command(readmodels_group)
main.add_command(process_group)
main.add_command(sensors_group)
alerts_group.add_command(alerts_clip)
main.add_command(alerts_group)
main.add_command(feedback_group)
main.add_command(sink_group)
main.add_command(replay_command)
main.add_command(sql_command)
main.add_command(demo_command)
main.add_command(etl_group)
main.add_command(console_command)
