"""``vidsight edge ...`` and ``vidsight cameras ...``: run the edge, simulate, apply configs.

Two click groups, ``edge`` and ``cameras``, attached to the ``vidsight`` group by the CLI.
"""

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
    from schemas.records import CameraCredentials

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


# ---- vidsight edge ------------------------------------------------------------------------------


@click.group()
def edge() -> None:
    """The edge producer: cameras -> events on Kafka, evidence in S3."""


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


@edge.command("run")
@click.option(
    "--config",
    "-c",
    "cameras_file",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="cameras YAML file (file mode; without it, --node follows the cameras topic)",
)
@click.option(
    "--node",
    default=None,
    help="this node's id: run the cameras the cameras topic assigns to it, with hot reload "
    "(env VIDSIGHT_EDGE_NODE_ID)",
)
@click.option("--site", default=None, help="this node's site (env VIDSIGHT_EDGE_SITE)")
@click.option("--camera", "only", multiple=True, help="run only these camera ids (repeatable)")
@_run_options
@click.pass_context
def edge_run(
    ctx: click.Context,
    *,
    cameras_file: Path | None,
    node: str | None,
    site: str | None,
    only: tuple[str, ...],
    data_dir: Path | None,
    spool_dir: Path | None,
    metrics_port: int | None,
    drain_timeout: float | None,
    duration: float | None,
    as_json: bool,
) -> None:
    """Run the cameras of a YAML file, or (--node) those the topic assigns to a node.

    A file run ends when every finite source has been drained. A node follows the topic until
    stopped: cameras added, changed or removed there start, restart or stop within seconds.
    When the broker cannot be reached at start, the node runs its last known configuration.
    """
    from producers.config import load_cameras

    settings = _settings(
        ctx,
        data_dir=data_dir,
        spool_dir=spool_dir,
        metrics_port=metrics_port,
        drain_timeout_s=drain_timeout,
        node_id=node,
        site=site,
    )
    if cameras_file is None:
        if settings.node_id is None:
            raise click.UsageError("give --config FILE (file mode) or --node ID (follow the topic)")
        if only:
            raise click.BadParameter("only with --config", param_hint="--camera")
        from producers.fleet.feed import TopicCameras

        feed = TopicCameras(settings)
        console.print(
            f"node {settings.node_id} (site {settings.site or '-'}): following the cameras topic"
        )
        _run(settings, [], duration, as_json, feed)
        return
    cameras = load_cameras(cameras_file)
    if only:
        unknown = set(only) - {c.camera_id for c in cameras}
        if unknown:
            raise click.BadParameter(
                f"not in {cameras_file}: {sorted(unknown)}", param_hint="--camera"
            )
        cameras = [c for c in cameras if c.camera_id in only]
    _run(settings, cameras, duration, as_json)


@edge.command("simulate")
@click.option(
    "--cameras",
    "count",
    type=click.IntRange(1, 10_000),
    default=4,
    show_default=True,
    help="how many synthetic cameras to run",
)
@click.option("--fps", type=float, default=5.0, show_default=True, help="analysis fps")
@click.option(
    "--scene-duration", type=float, default=None, help="scene seconds per camera (default: endless)"
)
@click.option(
    "--realtime/--fast",
    default=True,
    show_default=True,
    help="pace frames to the wall clock, or render as fast as possible",
)
@click.option(
    "--detector",
    type=click.Choice(["ground_truth", "motion"]),
    default="ground_truth",
    show_default=True,
    help="ground_truth: the scene's own boxes (exact, for checks); motion: background subtraction",
)
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the first camera")
@click.option("--prefix", default="sim", show_default=True, help="camera id prefix")
@click.option("--size", default="640x360", show_default=True, help="frame WIDTHxHEIGHT")
@_run_options
@click.pass_context
def edge_simulate(
    ctx: click.Context,
    *,
    count: int,
    fps: float,
    scene_duration: float | None,
    realtime: bool,
    detector: str,
    seed: int,
    prefix: str,
    size: str,
    data_dir: Path | None,
    spool_dir: Path | None,
    metrics_port: int | None,
    drain_timeout: float | None,
    duration: float | None,
    as_json: bool,
) -> None:
    """Run N synthetic cameras (deterministic scenes, seeds seed..seed+N-1)."""
    from producers.errors import SimulationError
    from producers.synthetic.cameras import simulated_cameras

    try:
        cameras = simulated_cameras(
            count,
            fps=fps,
            scene_duration=scene_duration,
            realtime=realtime,
            detector=detector,
            seed=seed,
            prefix=prefix,
            size=size,
        )
    except SimulationError as exc:
        raise click.BadParameter(exc.reason, param_hint=f"--{exc.option}") from exc
    settings = _settings(
        ctx,
        data_dir=data_dir,
        spool_dir=spool_dir,
        metrics_port=metrics_port,
        drain_timeout_s=drain_timeout,
    )
    _run(settings, cameras, duration, as_json)


@edge.command("drain")
@_run_options
@click.pass_context
def edge_drain(
    ctx: click.Context,
    *,
    data_dir: Path | None,
    spool_dir: Path | None,
    metrics_port: int | None,
    drain_timeout: float | None,
    duration: float | None,
    as_json: bool,
) -> None:
    """Deliver what an earlier run left in the spool, then exit."""
    settings = _settings(
        ctx,
        data_dir=data_dir,
        spool_dir=spool_dir,
        metrics_port=metrics_port,
        drain_timeout_s=drain_timeout,
    )
    _run(settings, [], duration, as_json)


@edge.command("spool")
@_DATA_DIR
@click.option(
    "--spool-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="store-and-forward directory to inspect (default <data-dir>/edge-spool)",
)
@click.pass_context
def edge_spool(ctx: click.Context, data_dir: Path | None, spool_dir: Path | None) -> None:
    """Show how much is waiting in the spools (the edge must not be running)."""
    from producers.spool import Spool

    settings = _settings(ctx, data_dir=data_dir, spool_dir=spool_dir)
    table = Table(title=f"spools in {settings.spool_path}", title_justify="left")
    for col in ("spool", "pending records", "pending bytes", "segments"):
        table.add_column(col)
    for name in ("events", "evidence"):
        path = settings.spool_path / name
        if not path.is_dir():
            table.add_row(name, "0", "0", "0")
            continue
        spool = Spool(path, name=name)
        st = spool.stats()
        spool.close()
        table.add_row(name, str(st.pending_records), str(st.pending_bytes), str(st.segments))
    console.print(table)


@edge.command("status")
@_DATA_DIR
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.pass_context
def edge_status(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """Show each edge node and its cameras: state, last frame, fps (from camera_status)."""
    from producers.health_status import EdgeStatusSettings, read_status, status_lines
    from schemas.records import now_micros
    from vidsight.errors import VidsightError

    settings = cfg.load(EdgeStatusSettings, config_file=config_file(ctx), data_dir=data_dir)
    try:
        beats = read_status(settings.postgres_dsn.get_secret_value())
    except VidsightError as exc:
        raise click.ClickException(str(exc)) from exc
    lines = status_lines(beats, now_micros())
    if as_json:
        for line in lines:
            click.echo(json.dumps(line.as_json()))
        return
    if not lines:
        console.print("no heartbeats yet: no edge node has reported (is one running?)")
        return
    table = Table(title="edge nodes and cameras", title_justify="left")
    for col in ("node / camera", "state", "last heard", "last frame", "fps", "detail"):
        table.add_column(col)
    for line in lines:
        name = line.node_id if line.camera_id is None else f"  {line.camera_id}"
        frame = "-" if line.last_frame_s is None else f"{line.last_frame_s:.1f}s ago"
        heard = f"{line.last_heard_s:.1f}s ago" if line.state != "no node heartbeat" else "-"
        table.add_row(name, line.state, heard, frame, line.fps, line.detail)
    console.print(table)


# ---- vidsight cameras ---------------------------------------------------------------------------


def _login_reference(ref: CameraCredentials | None) -> str:
    """Where the edge finds the password (never the password: apply never reads it)."""
    if ref is None:
        return ""
    where = f"env {ref.password_env}" if ref.password_env else f"file {ref.password_file}"
    return f"{ref.username or '-'} ({where})"


@click.group()
def cameras() -> None:
    """Camera definitions (the vidsight.config.cameras topic)."""


@cameras.command("validate")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def cameras_validate(path: Path) -> None:
    """Check a cameras YAML file without publishing anything."""
    from producers.config import load_cameras

    found = load_cameras(path)
    console.print(f"{path}: {len(found)} camera(s) valid")


@cameras.command("apply")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_DATA_DIR
@click.option("--dry-run", is_flag=True, help="validate and show, contact nothing")
@click.option(
    "--diff", is_flag=True, help="show what apply would change on the topic, publish nothing"
)
@click.option("--prune", is_flag=True, help="delete (tombstone) topic cameras the file lacks")
@click.pass_context
def cameras_apply(
    ctx: click.Context,
    path: Path,
    *,
    data_dir: Path | None,
    dry_run: bool,
    diff: bool,
    prune: bool,
) -> None:
    """Publish the cameras of a YAML file to vidsight.config.cameras (keyed by camera id).

    Cameras on the topic that the file lacks are listed, and deleted with a tombstone only
    with --prune. Edge nodes pick the changes up within seconds.
    """
    from producers.config import load_cameras, to_record
    from schemas.records import now_micros
    from vidsight.redact import redact_url

    now = now_micros()
    records = [to_record(c, now) for c in load_cameras(path)]
    table = Table(title=f"cameras in {path}", title_justify="left")
    for col in ("camera", "name", "source", "login", "fps", "detector", "enabled", "node/site"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.camera_id,
            r.name,
            redact_url(r.source),  # refused when inline already; masked all the same
            _login_reference(r.credentials),
            f"{r.fps:g}",
            str(r.detector.kind),
            "yes" if r.enabled else "no",
            "/".join(x or "-" for x in (r.node, r.site)),
        )
    console.print(table)
    if dry_run:
        console.print("dry run: nothing published")
        return
    from producers.fleet.apply import Action, plan_apply
    from producers.fleet.follower import read_cameras
    from producers.publish import publish_camera_configs

    settings = _settings(ctx, data_dir=data_dir)
    changes = plan_apply(read_cameras(settings), records, prune=prune)
    for change in changes:
        if change.action is not Action.UNCHANGED:
            console.print(f"  {change.action.value:<11} {change.camera_id}")
    kept = [c.camera_id for c in changes if c.action is Action.KEEP]
    deletes = [c.camera_id for c in changes if c.action is Action.DELETE]
    if kept:
        console.print(
            f"{len(kept)} camera(s) on the topic are not in {path}: {', '.join(kept)}; "
            "--prune would remove them"
        )
    if diff:
        console.print("diff: nothing published")
        return
    publish_camera_configs(settings, records, deletes=deletes)
    console.print(
        f"published {len(records)} camera config(s) to vidsight.config.cameras"
        + (f", removed {len(deletes)}" if deletes else "")
    )
