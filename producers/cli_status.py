"""``vidsight edge spool`` and ``vidsight edge status``: what waits in the spools, what the
nodes report (registered on the ``edge`` group by ``producers.cli``)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from producers.cli_common import _DATA_DIR, _settings, console
from vidsight import settings as cfg
from vidsight.commands import config_file


@click.command("spool")
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


@click.command("status")
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
