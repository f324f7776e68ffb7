"""``vidsight demo``: start the stack and run synthetic cameras through the whole platform.

What a new user sees: the stack coming up, the event path checked, a progress display while
the cameras run through edge -> processor -> sinks, then what the stores hold (alerts by
rule, crossings per direction against the scenes' ground truth, rows per store), where the
UIs are and what to type next. Exit status 1 when the stores disagree with the ground truth.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from infra.stack.settings import StackEndpoints, StackSettings
from schemas.records import CrossingDirection
from vidsight import settings as cfg
from vidsight.commands import config_file
from vidsight.demo.pipeline import Progress as PipelineProgress
from vidsight.demo.run import DemoRun
from vidsight.options import DATA_DIR_OPTION

console = Console(width=None if sys.stdout.isatty() else 160)
_S = TypeVar("_S", bound=cfg.Endpoints)

# The names SQL and JSON use, with what they mean for the demo's vertical centre line
# (side `a` is the left half of a line drawn top to bottom; README "Tripwire sides").
DIRECTIONS = (
    (CrossingDirection.A_TO_B, "a_to_b (left -> right)"),
    (CrossingDirection.B_TO_A, "b_to_a (right -> left)"),
)


def _load(ctx: click.Context, cls: type[_S], data_dir: Path | None) -> _S:
    return cfg.load(cls, config_file=config_file(ctx), data_dir=data_dir)


def _progress_view(progress: Progress) -> Callable[[PipelineProgress], None]:
    """A callback that moves one bar per stage (and one per store)."""
    tasks: dict[str, TaskID] = {}

    def bar(key: str, label: str, done: int, total: int) -> None:
        if key not in tasks:
            tasks[key] = progress.add_task(label, total=max(total, 1))
        progress.update(tasks[key], completed=min(done, max(total, 1)), total=max(total, 1))

    def update(p: PipelineProgress) -> None:
        bar("edge", "edge: frames analysed", p.frames_analysed, p.frames_expected)
        bar("proc", "processor: records processed", p.processed, p.published)
        for store, handled in p.sink_handled.items():
            # Kafka records, not rows: one detections record becomes a row per object.
            bar(store, f"sink {store}: topic records", handled, p.sink_expected[store])

    return update


def _print_summary(run: DemoRun) -> None:
    s = run.summary
    alerts = Table(
        title="alerts of this run by rule (PostgreSQL: one row per alert)",
        title_justify="left",
        caption="events in alerts: the sensor events each alert grouped (alerts.event_count); "
        "events the false-positive filter held back (inertia, scores, a stationary object) "
        "fire no alert, so this can be lower than the sensor events below",
        caption_justify="left",
    )
    for col in ("rule", "alerts", "ended", "open", "events in alerts"):
        alerts.add_column(col, justify="left" if col == "rule" else "right")
    for r in s.alerts_by_rule:
        alerts.add_row(r.rule, str(r.alerts), str(r.ended), str(r.alerts - r.ended), str(r.events))
    console.print(alerts)

    crossings = Table(
        title="crossings of the centre line (ClickHouse sensor_events vs the scenes' ground truth)",
        title_justify="left",
    )
    crossings.add_column("camera")
    for _, label in DIRECTIONS:
        crossings.add_column(label, justify="right")
    crossings.add_column("ground truth a_to_b / b_to_a", justify="right")
    crossings.add_column("check")
    for camera_id, want in run.expected.items():
        got = s.crossings.get(camera_id)
        ok = got == want
        crossings.add_row(
            camera_id,
            *(str(got[d] if got else 0) for d, _ in DIRECTIONS),
            " / ".join(str(want[d]) for d, _ in DIRECTIONS),
            "[green]match[/]" if ok else "[red]DIFFERENT[/]",
        )
    console.print(crossings)

    rows = Table(
        title="what the stores hold: this run, and everything (all runs, all cameras)",
        title_justify="left",
        caption="ClickHouse detections: one row per detected object; sensor_events and alerts: "
        "one row per event / alert (FINAL). PostgreSQL: one row per camera, sensor, alert. "
        "MongoDB: one document per analysed frame with objects. S3: objects.",
        caption_justify="left",
    )
    for col in ("store", "table", "this run", "in total"):
        rows.add_column(col, justify="left" if col in ("store", "table") else "right")
    for store, tables in s.rows.items():
        for table, n in tables.items():
            total = s.totals.get(store, {}).get(table)
            rows.add_row(store, table, str(n), "-" if total is None else str(total))
    console.print(rows)


def _print_next(run: DemoRun, endpoints: StackEndpoints, dagster_url: str, data_dir: Path) -> None:
    d = f"--data-dir {data_dir}"
    console.print("\n[bold]Endpoints[/]")
    for name, url in (
        ("operator console", _console_url(data_dir)),
        ("Dagster UI", dagster_url),
        ("schema registry", endpoints.registry_url),
        ("ClickHouse HTTP", endpoints.clickhouse_url),
        ("Kafka bootstrap", endpoints.kafka_bootstrap),
        ("S3", endpoints.s3_endpoint),
    ):
        console.print(f"  {name:<16} {url}", highlight=False)
    console.print(
        f"  (console login: operator; password in {data_dir / 'secrets' / 'console_password'})",
        highlight=False,
    )
    console.print("\n[bold]Look further[/]")
    cam = run.site.camera_ids[0]
    v = command_name()
    for line in (
        f"{v} alerts tail --from-beginning --exit-when-idle 5 {d}",
        f'{v} sql "SELECT rule, count() FROM alerts FINAL GROUP BY rule" {d}',
        f'{v} sql "SELECT sensor_id, direction, count() AS n FROM sensor_events FINAL '
        f"WHERE kind = 'line_cross' GROUP BY sensor_id, direction ORDER BY sensor_id\" {d}",
        f"{v} sql \"SELECT label, count() FROM detections FINAL WHERE camera_id = '{cam}' "
        f'GROUP BY label" --format csv {d}',
        f"{v} sensors apply {run.site_file} {d}    # after editing the site",
        f"{v} status {d}",
        f"{v} down {d}",
    ):
        # soft_wrap: a long command stays one line, so it can be copied as it is
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


def _console_url(data_dir: Path) -> str:
    """Where `vidsight up` serves the operator console (host and port of the stack's settings)."""
    stack = cfg.load(StackSettings, data_dir=data_dir)
    return f"http://{stack.host}:{stack.ports.console}"


def command_name() -> str:
    """How to call vidsight from here: ``vidsight`` when that is the one on PATH, else the
    path of the one running (``make demo`` runs ``.venv/bin/vidsight`` without activating
    the venv, so a bare ``vidsight`` would not be found)."""
    running = Path(sys.argv[0])
    on_path = shutil.which("vidsight")
    if running.name != "vidsight" or (on_path and Path(on_path).resolve() == running.resolve()):
        return "vidsight"
    try:
        return str(running.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(running.resolve())


@click.command("demo")
@DATA_DIR_OPTION
@click.option(
    "--seconds",
    type=click.FloatRange(5, 3600),
    default=60.0,
    show_default=True,
    help="scene seconds per synthetic camera",
)
@click.option(
    "--cameras", type=click.IntRange(1, 6), default=3, show_default=True, help="synthetic cameras"
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=10),
    default=900.0,
    show_default=True,
    help="give up when the pipeline has not finished after this many seconds",
)
@click.pass_context
def demo(
    ctx: click.Context, data_dir: Path | None, seconds: float, cameras: int, timeout: float
) -> None:
    """Start the local stack and run synthetic cameras through edge, processor and sinks."""
    from infra.stack import Stack
    from producers.settings import EdgeSettings
    from schemas.registration import register_all
    from schemas.topics import create_topics
    from sinks.settings import SinkSettings
    from stream_processors.runtime.settings import ProcessorSettings
    from vidsight.demo.run import run_demo
    from vidsight.demo.site import demo_site
    from vidsight.demo.smoke import smoke_produce_consume

    started = time.monotonic()
    settings = _load(ctx, StackSettings, data_dir)
    with console.status("starting the local stack (first start takes a few seconds)..."):
        statuses = Stack(settings).up()
    parts = (f"{s.name} {'[green]up[/]' if s.healthy else '[red]down[/]'}" for s in statuses)
    console.print("stack: " + ", ".join(parts), highlight=False)
    data_dir = settings.data_dir
    endpoints = _load(ctx, StackEndpoints, data_dir)
    with console.status("creating topics and registering schemas..."):
        topics = create_topics(endpoints.kafka_client_config())
        registered = register_all(endpoints)
    console.print(f"topics: {len(topics)}; schemas: {len(registered)} subjects registered")
    with console.status("checking the event path (Avro through broker and registry)..."):
        smoke = smoke_produce_consume(endpoints)
    console.print(f"event path: {smoke.consumed}/{smoke.produced} events round-tripped")

    site = demo_site(seconds, cameras=cameras)
    console.print(
        f"\n[bold]Running {len(site.cameras)} synthetic cameras[/] "
        f"({', '.join(f'{c.camera_id} {c.duration_s:g}s' for c in site.cameras)}) through "
        "edge -> processor -> sinks"
    )
    with Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,
    ) as progress:
        run = run_demo(
            site,
            site_file=data_dir / "demo" / "site.yaml",
            clock_file=data_dir / "demo" / "clock.json",
            edge=_load(ctx, EdgeSettings, data_dir),
            processor=_load(ctx, ProcessorSettings, data_dir),
            sinks=_load(ctx, SinkSettings, data_dir),
            on_progress=_progress_view(progress),
            timeout_s=timeout,
        )
    console.print(
        f"site {run.site_file}: {len(site.cameras)} cameras, {run.sensor_changes} sensor "
        f"change(s) applied; pipeline {run.pipeline.elapsed_s:.1f}s ("
        + ", ".join(f"{k} done at {v:.1f}s" for k, v in run.pipeline.stage_s.items())
        + ")\n"
    )
    _print_summary(run)
    dagster = next((s.url for s in statuses if s.name == "dagster"), "(not started)")
    _print_next(run, endpoints, dagster, data_dir)
    etl_ok = _run_etl(run, dagster, data_dir, endpoints.s3_bucket)
    console.print(f"\ndemo finished in {time.monotonic() - started:.0f}s")
    if not run.crossings_match:
        console.print("[bold red]the stores' crossings differ from the ground truth[/]")
        sys.exit(1)
    if not etl_ok:
        sys.exit(1)


def _run_etl(run: DemoRun, dagster_url: str, data_dir: Path, bucket: str) -> bool:
    """Materialize the demo's hours of the hourly analytics on Dagster; print where to look."""
    from vidsight.demo.etl import DEMO_ASSETS, heatmap_png, run_demo_etl, sensor_hourly_sql

    end_us = run.since_us + round(max(c.duration_s for c in run.site.cameras) * 1_000_000)
    console.print(
        f"\n[bold]Dagster[/]: materializing {', '.join(DEMO_ASSETS)} for the demo's hours"
    )
    with console.status("running on the Dagster instance (queued, then run)..."):
        etl = run_demo_etl(
            dagster_url,
            run.since_us,
            end_us,
            on_run=lambda r: console.print(
                f"  run {r.run_id} {r.status} partition={r.partition} {r.url}", highlight=False
            ),
        )
    if etl.missing:
        console.print(
            f"  [yellow]skipped[/]: the code location defines no {', '.join(etl.missing)} yet",
            highlight=False,
        )
        return True
    v = command_name()
    console.print(f"  Dagster UI       {dagster_url}/assets/sensor_hourly", highlight=False)
    png = heatmap_png(run.site.camera_ids[0], etl.hours[0])
    console.print(f"  heatmap PNG      s3://{bucket}/{png}", highlight=False)
    console.print(
        f'  {v} sql "{sensor_hourly_sql(etl.hours)}" --data-dir {data_dir}',
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if not etl.ok:
        console.print("[bold red]a Dagster run of the demo's hours failed (see its link)[/]")
    return etl.ok
