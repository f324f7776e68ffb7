"""Commands of the sinks: ``sink run``, ``replay`` and ``sql`` (attached to ``vidsight``).

They are also reachable as ``python -m sinks ...`` through ``standalone``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sinks.settings import SinkSettings
from sinks.stores import STORES, expand
from vidsight import settings as cfg
from vidsight.commands import config_file, root_group
from vidsight.options import DATA_DIR_OPTION


def _settings(ctx: click.Context, data_dir: Path | None, **overrides: Any) -> SinkSettings:
    return cfg.load(SinkSettings, config_file=config_file(ctx), data_dir=data_dir, **overrides)


@click.group("sink")
def sink_group() -> None:
    """Project the topics into PostgreSQL, MongoDB, ClickHouse and the S3 archive."""


@sink_group.command("run")
@click.argument("store", type=click.Choice([*STORES, "all"]))
@DATA_DIR_OPTION
@click.option(
    "--exit-when-idle",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="stop once nothing arrived for SECONDS and everything is written and committed",
)
@click.option(
    "--metrics-port", type=click.IntRange(0, 65535), default=None, help="serve /metrics here"
)
@click.pass_context
def sink_run(
    ctx: click.Context,
    store: str,
    data_dir: Path | None,
    exit_when_idle: float | None,
    metrics_port: int | None,
) -> None:
    """Run the sink of STORE (or all four) until SIGTERM/SIGINT, which flush and commit."""
    from sinks.runner import RunOptions
    from sinks.service import run_sinks

    settings = _settings(ctx, data_dir, metrics_port=metrics_port)
    names = expand([store])
    result = run_sinks(names, settings, options=RunOptions(exit_when_idle_s=exit_when_idle))
    for name, stats in result.stats.items():
        click.echo(
            f"{name}: consumed {stats.consumed}, wrote {stats.written} records "
            f"({stats.rows} rows), already stored {stats.skipped}, "
            f"dead-lettered {stats.dead_letters}, store outages {stats.outages}"
        )
    for name, exc in result.errors.items():
        click.echo(f"{name}: failed: {type(exc).__name__}: {exc}", err=True)
    if result.errors:
        sys.exit(1)


@click.command("replay")
@click.option(
    "--sink",
    "store",
    required=True,
    type=click.Choice([*STORES, "all"]),
    help="the store whose projection is dropped and rebuilt",
)
@DATA_DIR_OPTION
@click.option("--yes", is_flag=True, help="do not ask before dropping the projection")
@click.option(
    "--idle",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="the rebuild is done once nothing arrived for SECONDS",
)
@click.pass_context
def replay_command(
    ctx: click.Context, store: str, data_dir: Path | None, yes: bool, idle: float
) -> None:
    """Drop a store's projection and rebuild it from the topics (stop its sink first)."""
    from sinks.replay import replay

    settings = _settings(ctx, data_dir)
    names = expand([store])
    if not yes:
        click.confirm(
            f"Drop and rebuild the {', '.join(names)} projection(s)? Stop their sinks first.",
            abort=True,
        )
    for report in replay(names, settings, idle_s=idle):
        click.echo(report.summary())


@click.command("sql")
@click.argument("query")
@DATA_DIR_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for people; csv with a header; json: one object per line",
)
@click.option("--database", default=None, help="default database (default: the sinks' one)")
@click.pass_context
def sql_command(
    ctx: click.Context, query: str, data_dir: Path | None, fmt: str, database: str | None
) -> None:
    """Run an analyst's SQL query on ClickHouse and print the result.

    Read-only, enforced by the engine; table functions that reach files or the network are
    refused. Times are UTC. Read `alerts` with FINAL (one row per alert, latest state) and
    the *_hourly rollups with sum(...) / uniqMerge(tracks) and a GROUP BY.

    \b
    Tables (database vidsight):
      detections            one row per detected object: camera_id, frame_ts, track_id,
                            label, score, x1 y1 x2 y2, evidence_uri
      sensor_events         zone_enter/zone_exit/line_cross/loiter/occupancy: camera_id,
                            sensor_id, kind, direction (a_to_b/b_to_a), track_id, label, ts
      alerts                alert states: alert_id, camera_id, sensor_id, rule, lifecycle,
                            severity, label, top_score, start_ts, end_ts, event_count
      detections_hourly     hour x camera x label: objects, score_sum, tracks
      sensor_events_hourly  hour x camera x sensor x kind x direction x label: events, tracks
      alerts_hourly         hour x camera x sensor x severity x label: alerts

    \b
    Examples:
      vidsight sql "SELECT label, count() AS n FROM detections GROUP BY label ORDER BY n DESC"
      vidsight sql --format csv "SELECT * FROM alerts FINAL LIMIT 100" > alerts.csv
      vidsight sql "SELECT sensor_id, direction, sum(events) AS n FROM sensor_events_hourly
                    WHERE kind = 'line_cross' GROUP BY sensor_id, direction"
    """
    from sinks.sql import render_table, run_query, stream_query

    settings = _settings(ctx, data_dir)
    if fmt == "table":
        result = run_query(settings, query, database=database)
        click.echo(render_table(result), nl=False)
        return
    out = click.get_binary_stream("stdout")
    for chunk in stream_query(settings, query, fmt=fmt, database=database):
        out.write(chunk)
    out.flush()


standalone = root_group(
    "sinks",
    "The sinks' commands without the rest of vidsight (``python -m sinks``).",
    [sink_group, replay_command, sql_command],
)

__all__ = ["replay_command", "sink_group", "sql_command", "standalone"]
