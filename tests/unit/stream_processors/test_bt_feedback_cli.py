"""Pure parts of ``vidsight feedback`` and ``vidsight sensors backtest``: the event a verdict
becomes, the note, refused input, the time options."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from schemas.records import BBox, Verdict, feedback_id
from stream_processors.backtest.cli import parse_time
from stream_processors.errors import FeedbackError
from stream_processors.feedback import AlertRef, note_text, operator_name, verdict_for
from stream_processors.feedback_cli import feedback_group

ALERT = AlertRef("6f1c1c4e-0000-5000-8000-000000000001", "cam-1", "zone", "motion",
                 BBox(0.1, 0.2, 0.3, 0.4))  # fmt: skip


def test_a_false_positive_carries_the_alert_box_label_and_operator() -> None:
    fb = verdict_for(ALERT, Verdict.FALSE_POSITIVE, operator="ann", note="reason: lamp", ts=7)
    assert fb.boxes == (ALERT.bbox,) and fb.label == "motion"
    assert (fb.camera_id, fb.sensor_id, fb.operator, fb.ts) == ("cam-1", "zone", "ann", 7)
    assert fb.feedback_id == feedback_id(ALERT.alert_id, "ann", 7)
    assert verdict_for(ALERT, Verdict.UNKNOWN, operator="ann", ts=7).boxes == ()


def test_note_joins_reason_and_note_and_says_reopened() -> None:
    assert note_text(reason="lamp", note=" flicker ") == "reason: lamp; note: flicker"
    assert note_text(reason=None, note=None) is None
    assert note_text(reason=None, note=None, reopen=True) == "reopened"
    with pytest.raises(FeedbackError, match="reason"):
        note_text(reason="x\x00y", note=None)
    with pytest.raises(FeedbackError, match="note"):
        note_text(reason=None, note="x" * 2001)


def test_operator_defaults_to_the_os_user_and_refuses_control_codes() -> None:
    assert operator_name("  ann ") == "ann"
    assert operator_name(None)
    with pytest.raises(FeedbackError):
        operator_name("a\nb")


def test_mark_refuses_a_missing_verdict_and_a_bad_id_before_any_io() -> None:
    runner = CliRunner()
    out = runner.invoke(feedback_group, ["mark", ALERT.alert_id])
    assert out.exit_code == 2 and "--false-positive" in out.output
    out = runner.invoke(feedback_group, ["mark", "nope", "--confirm"])
    assert out.exit_code == 2 and "not a UUID" in out.output


def test_backtest_times() -> None:
    now = 1_700_000_000_000_000
    assert parse_time("now", now_us=now) == now
    assert parse_time("-24h", now_us=now) == now - 86_400_000_000
    assert parse_time("-90m", now_us=now) == now - 5_400_000_000
    assert parse_time("2023-11-14T22:13:20Z", now_us=0) == now
    assert parse_time("2023-11-14T22:13:20", now_us=0) == now
    assert parse_time(str(now), now_us=0) == now
    with pytest.raises(Exception, match="ISO 8601"):
        parse_time("yesterday", now_us=now)
