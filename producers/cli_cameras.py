"""``vidsight cameras ...``: validate camera definitions and apply them to the topic."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from producers.cli_common import _DATA_DIR, _settings, console

if TYPE_CHECKING:
    from schemas.records import CameraCredentials


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
