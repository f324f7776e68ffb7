"""False-positive verdicts per camera and sensor, from the operators' feedback topic.

These are what the learned suppression is taught with (DESIGN.md: boxes operators marked false
positive are suppressed on the same camera), so the count per sensor says how much suppression
memory each sensor has been given. Each verdict message counts once; an operator who changes
their mind on an alert adds a verdict of the other kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.records import Feedback, Verdict
from stream_processors.readmodels.buckets import NO_OFFSET, is_redelivery, require_int


@dataclass(frozen=True, slots=True)
class VerdictCounts:
    """Verdicts on one sensor's alerts; ``last_ts``: event time of the newest verdict."""

    false_positive: int = 0
    true_positive: int = 0
    last_ts: int = 0

    def add(self, verdict: Verdict, ts: int) -> VerdictCounts:
        """These counts plus one verdict given at ``ts``."""
        fp = self.false_positive + (verdict == Verdict.FALSE_POSITIVE)
        tp = self.true_positive + (verdict == Verdict.TRUE_POSITIVE)
        return VerdictCounts(fp, tp, max(self.last_ts, ts))

    def view(self) -> dict[str, Any]:
        """Counts and the share of verdicts that were false positives."""
        total = self.false_positive + self.true_positive
        return {
            "false_positive": self.false_positive,
            "true_positive": self.true_positive,
            "false_positive_rate": round(self.false_positive / total, 4) if total else None,
            "last_ts": self.last_ts,
        }


@dataclass(frozen=True, slots=True)
class CameraVerdicts:
    """Verdict counts of every sensor of one camera; ``offset``: last record applied."""

    offset: int = NO_OFFSET
    sensors: Mapping[str, VerdictCounts] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form (the changelog value)."""
        return {
            "offset": self.offset,
            "sensors": {
                s: [c.false_positive, c.true_positive, c.last_ts] for s, c in self.sensors.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CameraVerdicts:
        """Back from the stored form."""
        sensors = {
            str(s): VerdictCounts(
                require_int(fp, "false_positive"),
                require_int(tp, "true_positive"),
                require_int(ts, "last_ts"),
            )
            for s, (fp, tp, ts) in data["sensors"].items()
        }
        return cls(require_int(data["offset"], "offset"), sensors)


def apply_feedback(state: CameraVerdicts, feedback: Feedback, offset: int) -> CameraVerdicts:
    """The camera's verdict counts after one feedback message (``state`` itself if unchanged)."""
    if feedback.verdict not in (Verdict.FALSE_POSITIVE, Verdict.TRUE_POSITIVE):
        return state
    if is_redelivery(offset, state.offset):
        return state
    counts = state.sensors.get(feedback.sensor_id, VerdictCounts())
    sensors = {**state.sensors, feedback.sensor_id: counts.add(feedback.verdict, feedback.ts)}
    return CameraVerdicts(offset, sensors)


def verdicts_view(camera_id: str, state: CameraVerdicts | None) -> dict[str, Any]:
    """The HTTP answer: per-sensor verdict counts and the camera's totals."""
    sensors = {} if state is None else state.sensors
    total = VerdictCounts(
        sum(c.false_positive for c in sensors.values()),
        sum(c.true_positive for c in sensors.values()),
        max((c.last_ts for c in sensors.values()), default=0),
    )
    return {
        "camera_id": camera_id,
        "sensors": {s: c.view() for s, c in sorted(sensors.items())},
        **total.view(),
    }
