"""``vidsight alerts clip ALERT_ID -o FILE.mp4``: the recorded video of an alert.

An application command (it joins the edge's recording library, the alerts' PostgreSQL
projection and S3), so it lives next to the CLI and is mounted under ``alerts`` there.

The alert's range (``--pre``/``--post`` seconds around its start and end, at most
``--max`` seconds) is cut from the camera's recorded segments, found in PostgreSQL's
``recordings`` table and fetched from S3, without re-encoding: the clip starts at the keyframe
at or before the range's start.
"""

from __future__ import annotations

from pathlib import Path

import click

from producers.recording.library import MAX_CLIP_S, RecordingLibrary
from schemas.records import from_micros
from stream_processors.feedback_settings import FeedbackSettings
from vidsight import settings as cfg
from vidsight.commands import config_file
from vidsight.options import DATA_DIR_OPTION
from vidsight.s3 import S3Connection, s3_client


class ClipSettings(FeedbackSettings, S3Connection):
    """The processor's settings, the alerts' PostgreSQL projection and the S3 bucket."""


@click.command("clip")
@DATA_DIR_OPTION
@click.argument("alert_id")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="MP4 file to write",
)
@click.option(
    "--pre",
    "pre_s",
    type=click.FloatRange(0, 120),
    default=5.0,
    show_default=True,
    help="seconds of video before the alert starts",
)
@click.option(
    "--post",
    "post_s",
    type=click.FloatRange(0, 600),
    default=5.0,
    show_default=True,
    help="seconds of video after the alert ends",
)
@click.option("--max", "max_s", type=click.FloatRange(1, MAX_CLIP_S), default=MAX_CLIP_S,
              show_default=True, help="longest clip, seconds")  # fmt: skip
@click.pass_context
def alerts_clip(  # noqa: PLR0917 (click passes options positionally by name)
    ctx: click.Context,
    data_dir: Path | None,
    alert_id: str,
    output: Path,
    pre_s: float,
    post_s: float,
    max_s: float,
) -> None:
    """Write the recorded video of ALERT_ID to an MP4 file (no re-encoding)."""
    settings = cfg.load(ClipSettings, config_file=config_file(ctx), data_dir=data_dir)
    library = RecordingLibrary(
        settings.postgres_dsn.get_secret_value(),
        s3_client(settings, timeout_s=30, path_style=True),
        settings.s3_bucket,
    )
    video = library.alert_video(alert_id, pre_s=pre_s, post_s=post_s, max_s=max_s)
    info = library.clip(video, output)
    span = (info.end_us - info.start_us) / 1e6
    click.echo(
        f"{output}: camera {video.camera_id}, {from_micros(info.start_us):%Y-%m-%d %H:%M:%S.%f} "
        f"UTC + {span:.2f}s, {info.packets} packets from {info.segments} segment(s)"
    )
    if info.note:
        click.echo(f"note: {info.note}", err=True)
