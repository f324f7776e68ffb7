"""``vidsight feedback``: operator verdicts from a terminal or a script.

- ``vidsight feedback mark ALERT_ID --false-positive [--reason R] [--note N]`` (or
  ``--confirm``, ``--reopen``) publishes a ``Feedback`` event to vidsight.feedback;
- ``vidsight feedback list [--camera C] [--json]`` lists the verdicts given, newest first,
  from PostgreSQL's ``feedback`` table (the postgres sink's projection of the topic).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import click

from schemas.records import Verdict
from schemas.serde import Serde
from stream_processors.errors import FeedbackError
from stream_processors.feedback import (
    find_alert,
    list_feedback,
    note_text,
    operator_name,
    publish_feedback,
    verdict_for,
)
from stream_processors.feedback_settings import FeedbackSettings
from vidsight import settings as cfg
from vidsight.commands import config_file
from vidsight.options import DATA_DIR_OPTION

_ACTIONS = {"false_positive": Verdict.FALSE_POSITIVE, "confirm": Verdict.TRUE_POSITIVE,
            "reopen": Verdict.UNKNOWN}  # fmt: skip


def _settings(ctx: click.Context, data_dir: Path | None) -> FeedbackSettings:
    return cfg.load(FeedbackSettings, config_file=config_file(ctx), data_dir=data_dir)


@click.group(name="feedback")
def feedback_group() -> None:
    """Operator verdicts on alerts (they teach the false-positive filter)."""


@feedback_group.command("mark")
@DATA_DIR_OPTION
@click.argument("alert_id")
@click.option("--false-positive", "action", flag_value="false_positive", help="not a real event")
@click.option("--confirm", "action", flag_value="confirm", help="a real event (true positive)")
@click.option("--reopen", "action", flag_value="reopen", help="withdraw the verdict (unknown)")
@click.option("--reason", default=None, help="why (short text)")
@click.option("--note", default=None, help="free text")
@click.option("--operator", default=None, help="who gives the verdict (default: the OS user)")
@click.pass_context
def feedback_mark(  # noqa: PLR0917 (click passes options positionally by name)
    ctx: click.Context,
    data_dir: Path | None,
    alert_id: str,
    action: str | None,
    reason: str | None,
    note: str | None,
    operator: str | None,
) -> None:
    """Publish a verdict on ALERT_ID (camera, sensor, label and box from PostgreSQL)."""
    if action is None:
        raise click.UsageError("give one of --false-positive, --confirm, --reopen")
    try:
        canonical = str(uuid.UUID(alert_id))
    except ValueError:
        raise click.BadParameter("not a UUID", param_hint="ALERT_ID") from None
    try:
        who = operator_name(operator)
        text = note_text(reason=reason, note=note, reopen=action == "reopen")
        settings = _settings(ctx, data_dir)
        alert = find_alert(settings, canonical)
        record = verdict_for(alert, _ACTIONS[action], operator=who, note=text)
        publish_feedback(settings, Serde.for_registry(settings), record)
    except FeedbackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"published {record.verdict.value} on alert {canonical} (camera {record.camera_id}, "
        f"sensor {record.sensor_id}) by {who} to {settings.topics.feedback}: "
        f"feedback {record.feedback_id}"
    )


@feedback_group.command("list")
@DATA_DIR_OPTION
@click.option("--camera", default=None, help="only this camera's verdicts")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="most rows"
)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line (Avro names)")
@click.pass_context
def feedback_list(
    ctx: click.Context, data_dir: Path | None, camera: str | None, limit: int, as_json: bool
) -> None:
    """The verdicts given, newest first (from PostgreSQL's feedback table)."""
    settings = _settings(ctx, data_dir)
    try:
        rows = list(list_feedback(settings, camera_id=camera, limit=limit))
    except FeedbackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if not as_json:
        click.echo(f"{'given (UTC)':<20}  {'alert id':<36}  verdict         camera  sensor  "
                   "operator  note")  # fmt: skip
    for r in rows:
        ts = r.ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if as_json:
            doc = {"feedback_id": r.feedback_id, "alert_id": r.alert_id,
                   "camera_id": r.camera_id, "sensor_id": r.sensor_id, "verdict": r.verdict,
                   "operator": r.operator, "ts": ts, "note": r.note, "label": r.label}  # fmt: skip
            click.echo(json.dumps(doc, ensure_ascii=False))
        else:
            click.echo(
                f"{ts[:19]:<20}  {r.alert_id:<36}  {r.verdict:<14}  {r.camera_id}  "
                f"{r.sensor_id}  {r.operator}  {r.note or '-'}"
            )
