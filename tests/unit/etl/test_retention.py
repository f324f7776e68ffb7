"""Retention decisions: expiry per camera, confirmed alerts, keep flags, the lake's horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from etl.retention.plan import (
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
