"""Which evidence objects and recordings a retention run deletes, and why each other one stays.

Pure: the asset lists the objects, the confirmed alerts and the keep flags, and hands them
here with the days the lake holds (compacted from a complete archive). An object is deleted
only when all of these hold:

- it is older than its camera's ``evidence_days``;
- no alert an operator confirmed refers to it (its ``evidence_uri``, or a frame of the
  alert's camera between its start and end) unless it is also older than the camera's
  ``confirmed_evidence_days``;
- no keep flag names it (the exact key, or a prefix ending in ``/``);
- the lake holds its day (``lake_days``): the events that point at it are in the cold tier.

Recorded video segments (``recordings/<camera>/.../<start_us>.mp4``) follow the same rules with
the camera's ``recording_days``; a segment counts as covering ``[start, start + span]`` (the
longest segment there can be), so video that may show a confirmed alert is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from etl.retention.policy import RetentionPolicy

_KEY = re.compile(r"^(?P<prefix>.+?)/(?P<camera>[^/]+)/\d{4}/\d{2}/\d{2}/\d{2}/(?P<ts>\d+)\.jpg$")
_RECORDING = re.compile(
    r"^(?P<prefix>.+?)/(?P<camera>[^/]+)/\d{4}/\d{2}/\d{2}/\d{2}/(?P<ts>\d+)\.mp4$"
)
RECORDING_SPAN = timedelta(seconds=600)
"""The longest a recorded segment can be (``record.segment_s`` is at most 600 s)."""


@dataclass(frozen=True, slots=True)
class EvidenceObject:
    """One evidence image in S3."""

    key: str
    camera_id: str
    frame_ts: datetime
    size: int


def parse_evidence(key: str, size: int, *, video: bool = False) -> EvidenceObject | None:
    """The object behind ``evidence/<camera>/<yyyy>/<mm>/<dd>/<hh>/<micros>.jpg`` (with
    ``video``: ``recordings/<camera>/<yyyy>/<mm>/<dd>/<hh>/<start micros>.mp4``), else None."""
    m = (_RECORDING if video else _KEY).match(key)
    if m is None:
        return None
    ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(m["ts"]))
    return EvidenceObject(key, m["camera"], ts, size)


@dataclass(frozen=True, slots=True)
class ConfirmedAlert:
    """An alert an operator marked a true positive."""

    alert_id: str
    camera_id: str
    start: datetime
    end: datetime | None
    evidence_key: str | None


class Action(StrEnum):
    DELETE = "delete"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class Decision:
    """What a run does with one expired (or protected) object, and why."""

    obj: EvidenceObject
    action: Action
    reason: str


def uri_key(uri: str | None, bucket: str) -> str | None:
    """The key of ``s3://<bucket>/<key>`` (None for another bucket or no URI)."""
    head = f"s3://{bucket}/"
    return uri[len(head) :] if uri and uri.startswith(head) else None


def decide(
    objects: Iterable[EvidenceObject],
    *,
    now: datetime,
    policy: RetentionPolicy,
    confirmed: Sequence[ConfirmedAlert],
    keep: Iterable[str],
    lake_days: frozenset[date],
    days: Callable[[str], tuple[int, int]] | None = None,
    span: timedelta = timedelta(0),
) -> list[Decision]:
    """Decisions for every object past its camera's plain age (younger ones stay without a
    word); in key order. ``days`` gives a camera's (plain, confirmed) days (default: the
    evidence days); an object covers ``[its time, its time + span]``."""
    days = days or policy.days
    keep = list(keep)
    exact = {k for k in keep if not k.endswith("/")}
    prefixes = tuple(k for k in keep if k.endswith("/"))
    by_key = {a.evidence_key: a for a in confirmed if a.evidence_key}
    by_camera: dict[str, list[ConfirmedAlert]] = {}
    for a in confirmed:
        by_camera.setdefault(a.camera_id, []).append(a)
    out: list[Decision] = []
    for obj in sorted(objects, key=lambda o: o.key):
        plain, confirmed_days = days(obj.camera_id)
        age = now - obj.frame_ts
        if age <= timedelta(days=plain):
            continue
        alert = by_key.get(obj.key) or next(
            (
                a
                for a in by_camera.get(obj.camera_id, ())
                if a.start - span <= obj.frame_ts <= (a.end or a.start)
            ),
            None,
        )
        reason = ""
        if obj.key in exact or obj.key.startswith(prefixes):
            reason = "keep flag"
        elif alert is not None and age <= timedelta(days=confirmed_days):
            reason = f"evidence of confirmed alert {alert.alert_id} ({confirmed_days} days)"
        elif obj.frame_ts.date() not in lake_days:
            reason = "its day is not in the lake yet"
        if reason:
            out.append(Decision(obj, Action.KEEP, reason))
        else:
            out.append(Decision(obj, Action.DELETE, f"older than {plain} days"))
    return out
