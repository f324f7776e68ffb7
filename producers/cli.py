"""``vidsight edge ...`` and ``vidsight cameras ...``: run the edge, simulate, apply configs.

Two click groups, ``edge`` and ``cameras``, attached to the ``vidsight`` group by the CLI.
The run commands live here; ``edge spool``/``edge status`` in ``producers.cli_status``, the
``cameras`` group and its commands in ``producers.cli_cameras``, shared helpers in
``producers.cli_common``.
"""

from __future__ import annotations

from pathlib import Path

import click

from producers.cli_cameras import cameras
from producers.cli_common import _run, _run_options, _settings, console
from producers.cli_status import edge_spool, edge_status

# ---- vidsight edge ------------------------------------------------------------------------------


@click.group()
def edge() -> None:
    """The edge producer: cameras -> events on Kafka, evidence in S3."""


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


edge.add_command(edge_spool)
edge.add_command(edge_status)

__all__ = ["cameras", "edge"]
