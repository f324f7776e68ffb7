"""What a backtest says per sensor: the candidate's figures, the in-force figures, the diff.

Pure. An alert "matches an operator false positive" when an operator's latest verdict on its
id is ``false_positive``, or when its box overlaps a box operators marked false positive on
the same camera (same label, or a verdict of unknown label) by at least the engine's
``fp_iou``: the same similarity the learned suppression uses, so a candidate sensor whose
alerts get new ids (other geometry, other start times) is still judged against the verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.records import Alert, Feedback, SensorConfig, Verdict
from stream_processors.backtest.replay import ReplayResult
from stream_processors.rules.fpmemory import WILDCARD, Box, box_of
from stream_processors.rules.geometry import iou


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One sensor's figures in one replay."""

    sensor_events: int
    alerts: int
    false_positive_matches: int
    """Alerts that match a verdict of false positive (module docstring)."""
    alert_ids: tuple[str, ...]
    """The alerts raised, sorted."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "sensor_events": self.sensor_events,
            "alerts": self.alerts,
            "false_positive_matches": self.false_positive_matches,
            "alert_ids": list(self.alert_ids),
        }


@dataclass(frozen=True, slots=True)
class SensorResult:
    """One sensor of the backtest: candidate vs in force (either may be absent)."""

    sensor_id: str
    camera_id: str
    change: str
    """``added`` (only a candidate), ``removed`` (only in force), ``changed`` or
    ``unchanged`` (the definitions compared without their update time)."""
    candidate: RunFigures | None
    in_force: RunFigures | None

    @property
    def alerts_added(self) -> tuple[str, ...]:
        """Alert ids the candidate raises and the sensor in force did not."""
        before = set(self.in_force.alert_ids) if self.in_force else set()
        return tuple(
            a for a in (self.candidate.alert_ids if self.candidate else ()) if a not in before
        )

    @property
    def alerts_removed(self) -> tuple[str, ...]:
        """Alert ids the sensor in force raised and the candidate does not."""
        after = set(self.candidate.alert_ids) if self.candidate else set()
        return tuple(
            a for a in (self.in_force.alert_ids if self.in_force else ()) if a not in after
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "sensor_id": self.sensor_id,
            "camera_id": self.camera_id,
            "change": self.change,
            "candidate": None if self.candidate is None else self.candidate.to_dict(),
            "in_force": None if self.in_force is None else self.in_force.to_dict(),
            "alerts_added": list(self.alerts_added),
            "alerts_removed": list(self.alerts_removed),
        }


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """The result of :func:`stream_processors.backtest.run_backtest`."""

    start_us: int
    end_us: int
    camera_id: str | None
    cameras: tuple[str, ...]
    detections: int
    """Detections messages replayed (per replay: both replay the same records)."""
    frames: int
    feedback: int
    """Operator verdicts on the cameras that were known (applied in both replays)."""
    sensors: tuple[SensorResult, ...]
    source: str
    """Where the recorded events came from (e.g. ``s3://vidsight/archive``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (times in UTC microseconds, as the events carry them)."""
        return {
            "start_us": self.start_us,
            "end_us": self.end_us,
            "camera_id": self.camera_id,
            "cameras": list(self.cameras),
            "detections": self.detections,
            "frames": self.frames,
            "feedback": self.feedback,
            "source": self.source,
            "sensors": [s.to_dict() for s in self.sensors],
        }

    def to_json(self) -> str:
        """One JSON document (``vidsight sensors backtest --json`` prints it)."""
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True, slots=True)
class FalsePositives:
    """Operator verdicts resolved to alert ids and boxes."""

    alert_ids: frozenset[str]
    boxes: Mapping[tuple[str, str], tuple[Box, ...]]
    """(camera, label or ``*``) -> boxes marked false positive."""

    def matches(self, alert: Alert, thr: float) -> bool:
        """Whether an alert matches a false-positive verdict (module docstring)."""
        if alert.alert_id in self.alert_ids:
            return True
        if alert.bbox is None:
            return False
        x1, y1, x2, y2 = box_of(alert.bbox)
        for label in (alert.label, WILDCARD):
            for b in self.boxes.get((alert.camera_id, label), ()):
                if iou(x1, y1, x2, y2, *b) >= thr:
                    return True
        return False


def false_positives(feedback: Iterable[Feedback], known: Mapping[str, Alert]) -> FalsePositives:
    """The verdicts whose latest word is false positive; boxes from the verdict, else from the
    alert as ``known`` has it (the alerts of a replay of the sensors in force)."""
    latest: dict[str, Feedback] = {}
    for fb in sorted(feedback, key=lambda f: (f.ts, f.feedback_id)):
        if fb.verdict is not Verdict.UNKNOWN:
            latest[fb.alert_id] = fb
    ids = set()
    boxes: dict[tuple[str, str], list[Box]] = {}
    for alert_id, fb in latest.items():
        if fb.verdict is not Verdict.FALSE_POSITIVE:
            continue
        ids.add(alert_id)
        alert = known.get(alert_id)
        label = fb.label or (alert.label if alert is not None else WILDCARD)
        if fb.boxes:
            marked = [box_of(b) for b in fb.boxes]
        elif alert is not None and alert.bbox is not None:
            marked = [box_of(alert.bbox)]
        else:
            marked = []
        boxes.setdefault((fb.camera_id, label), []).extend(marked)
    return FalsePositives(frozenset(ids), {k: tuple(v) for k, v in boxes.items()})


def figures(result: ReplayResult, sensor_id: str, fps: FalsePositives, thr: float) -> RunFigures:
    """One sensor's figures of a replay."""
    alerts = sorted((a for a in result.alerts.values() if a.sensor_id == sensor_id),
                    key=lambda a: a.alert_id)  # fmt: skip
    return RunFigures(
        sensor_events=result.sensor_events.get(sensor_id, 0),
        alerts=len(alerts),
        false_positive_matches=sum(fps.matches(a, thr) for a in alerts),
        alert_ids=tuple(a.alert_id for a in alerts),
    )


def _same(a: SensorConfig, b: SensorConfig) -> bool:
    return a.to_avro() | {"updated_ts": 0} == b.to_avro() | {"updated_ts": 0}


def compare(
    candidates: Sequence[SensorConfig],
    in_force: Sequence[SensorConfig],
    *,
    cand_run: ReplayResult,
    force_run: ReplayResult,
    fps: FalsePositives,
    thr: float,
) -> tuple[SensorResult, ...]:
    """Per sensor (sorted by camera, then id): both runs' figures and what changed."""
    new = {s.sensor_id: s for s in candidates}
    old = {s.sensor_id: s for s in in_force}
    out = []
    for sid in sorted(new.keys() | old.keys(), key=lambda k: ((new.get(k) or old[k]).camera_id, k)):
        c, f = new.get(sid), old.get(sid)
        if c is None:
            change = "removed"
        elif f is None:
            change = "added"
        else:
            change = "unchanged" if _same(c, f) else "changed"
        out.append(
            SensorResult(
                sensor_id=sid,
                camera_id=(c or f).camera_id,  # type: ignore[union-attr]
                change=change,
                candidate=None if c is None else figures(cand_run, sid, fps, thr),
                in_force=None if f is None else figures(force_run, sid, fps, thr),
            )
        )
    return tuple(out)
