"""Retention decisions: expiry per camera, confirmed alerts, keep flags, the lake's horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from etl.retention.plan import (
    RECORDING_SPAN,
    Action,
    ConfirmedAlert,
    EvidenceObject,
    decide,
    parse_evidence,
    uri_key,
)
from etl.retention.policy import CameraRetention, RetentionPolicy

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def key(cam: str, t: datetime) -> str:
    us = int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    return f"evidence/{cam}/{t:%Y}/{t:%m}/{t:%d}/{t:%H}/{us}.jpg"


def obj(cam: str, days_ago: float) -> EvidenceObject:
    t = NOW - timedelta(days=days_ago)
    o = parse_evidence(key(cam, t), 100)
    assert o is not None and o.frame_ts == t and o.camera_id == cam
    return o


POLICY = RetentionPolicy(
    evidence_days=30,
    confirmed_evidence_days=90,
    cameras={"gate": CameraRetention(evidence_days=7)},
)


def test_per_camera_days_and_defaults() -> None:
    assert POLICY.days("yard") == (30, 90)
    assert POLICY.days("gate") == (7, 90)
    with pytest.raises(ValidationError, match="confirmed_evidence_days \\(camera x\\) = 2"):
        RetentionPolicy(cameras={"x": CameraRetention(evidence_days=5, confirmed_evidence_days=2)})


def test_parse_evidence_refuses_other_keys() -> None:
    assert parse_evidence("evidence/cam/2024/01/01/00/notanumber.jpg", 1) is None
    assert parse_evidence("reports/heatmaps/cam/2024/01/01/00.png", 1) is None
    assert uri_key("s3://vidsight/evidence/a.jpg", "vidsight") == "evidence/a.jpg"
    assert uri_key("s3://other/evidence/a.jpg", "vidsight") is None


def test_decisions_exactly() -> None:
    young, old, gate8 = obj("yard", 29), obj("yard", 31), obj("gate", 8)
    confirmed_frame, confirmed_range = obj("yard", 40), obj("yard", 50)
    ancient_confirmed, flagged, flagged_dir = obj("yard", 100), obj("yard", 45), obj("lot", 60)
    alerts = [
        ConfirmedAlert("a1", "yard", NOW - timedelta(days=41), None, confirmed_frame.key),
        ConfirmedAlert("a2", "yard", NOW - timedelta(days=51), NOW - timedelta(days=49), None),
        ConfirmedAlert("a3", "yard", NOW - timedelta(days=100), None, ancient_confirmed.key),
    ]
    objects = [young, old, gate8, confirmed_frame, confirmed_range, ancient_confirmed, flagged,
               flagged_dir]  # fmt: skip
    got = decide(
        objects,
        now=NOW,
        policy=POLICY,
        confirmed=alerts,
        keep=[flagged.key, "evidence/lot/"],
        lake_days=frozenset((NOW - timedelta(days=d)).date() for d in range(200)),
    )
    by = {d.obj.key: (d.action, d.reason) for d in got}
    assert young.key not in by
    assert by[old.key] == (Action.DELETE, "older than 30 days")
    assert by[gate8.key] == (Action.DELETE, "older than 7 days")
    assert by[confirmed_frame.key] == (Action.KEEP, "evidence of confirmed alert a1 (90 days)")
    assert by[confirmed_range.key] == (Action.KEEP, "evidence of confirmed alert a2 (90 days)")
    assert by[ancient_confirmed.key] == (Action.DELETE, "older than 30 days")
    assert by[flagged.key] == (Action.KEEP, "keep flag")
    assert by[flagged_dir.key] == (Action.KEEP, "keep flag")
    assert len(got) == 7


def test_nothing_is_deleted_beyond_the_lake() -> None:
    old = obj("yard", 31)
    [d] = decide([old], now=NOW, policy=POLICY, confirmed=[], keep=[], lake_days=frozenset())
    assert (d.action, d.reason) == (Action.KEEP, "its day is not in the lake yet")
    [d] = decide(
        [old],
        now=NOW,
        policy=POLICY,
        confirmed=[],
        keep=[],
        lake_days=frozenset({old.frame_ts.date()}),
    )
    assert d.action is Action.DELETE


def test_recordings_follow_their_own_days_and_keep_confirmed_alerts_video() -> None:
    policy = RetentionPolicy(
        evidence_days=30,
        confirmed_evidence_days=90,
        recordings_days=14,
        cameras={"gate": CameraRetention(recordings_days=3)},
    )
    assert policy.recording_days("yard") == (14, 90)
    assert policy.recording_days("gate") == (3, 90)

    def seg(cam: str, days_ago: float) -> EvidenceObject:
        us = int((NOW - timedelta(days=days_ago)).timestamp() * 1_000_000)
        t = NOW - timedelta(days=days_ago)
        key = f"recordings/{cam}/{t:%Y/%m/%d/%H}/{us}.mp4"
        parsed = parse_evidence(key, 10, video=True)
        assert parsed is not None and parsed.camera_id == cam
        assert parse_evidence(key, 10) is None  # not a JPEG
        return parsed

    young, old, gate, alert_video = (
        seg("yard", 10),
        seg("yard", 20),
        seg("gate", 4),
        seg("yard", 30),
    )
    # The alert starts 5 minutes into the segment that shows it.
    confirmed = [
        ConfirmedAlert("a9", "yard", alert_video.frame_ts + timedelta(minutes=5), None, None)
    ]
    decisions = decide(
        [young, old, gate, alert_video],
        now=NOW,
        policy=policy,
        confirmed=confirmed,
        keep=[],
        lake_days=frozenset((NOW - timedelta(days=d)).date() for d in range(200)),
        days=policy.recording_days,
        span=RECORDING_SPAN,
    )
    by = {d.obj.key: (d.action, d.reason) for d in decisions}
    assert young.key not in by
    assert by[old.key] == (Action.DELETE, "older than 14 days")
    assert by[gate.key] == (Action.DELETE, "older than 3 days")
    assert by[alert_video.key] == (Action.KEEP, "evidence of confirmed alert a9 (90 days)")
