"""Learned false-positive suppression: boxes operators rejected, rebuilt by feeding Feedback.

Pure structures, one pair per camera. ``AlertMemory`` remembers the label and box of recent
alerts so a verdict that carries no boxes (or no label: ``Feedback.label`` is nullable for
tools that do not know it) can be resolved to what the operator saw.
"""

from __future__ import annotations

from typing import Any

from schemas.records import BBox, Feedback, Verdict
from stream_processors.rules.geometry import iou

Box = tuple[float, float, float, float]
WILDCARD = "*"
"""Label of verdicts whose alert is unknown: their boxes are suppressed for every label."""


def box_of(b: BBox) -> Box:
    """A record box as a plain float tuple."""
    return (b.x1, b.y1, b.x2, b.y2)


class AlertMemory:
    """Label and box of the most recent alerts of one camera, by alert id (bounded, FIFO)."""

    __slots__ = ("_alerts", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._alerts: dict[str, tuple[str, Box | None]] = {}

    def remember(self, alert_id: str, label: str, box: Box | None) -> None:
        """Record (or refresh) what an alert was about."""
        alerts = self._alerts
        alerts.pop(alert_id, None)
        alerts[alert_id] = (label, box)
        if len(alerts) > self._size:
            del alerts[next(iter(alerts))]

    def get(self, alert_id: str) -> tuple[str, Box | None] | None:
        """Label and box of a remembered alert."""
        return self._alerts.get(alert_id)

    def to_state(self) -> list[Any]:
        """JSON-able state, oldest first."""
        return [
            [k, label, None if box is None else list(box)]
            for k, (label, box) in self._alerts.items()
        ]

    def load_state(self, state: list[Any]) -> None:
        """Replace the contents with :meth:`to_state` output."""
        self._alerts = {
            str(k): (str(label), None if box is None else _box(box)) for k, label, box in state
        }


class FalsePositiveMemory:
    """Verdicts on one camera's alerts; false positives suppress similar boxes of their label.

    The latest verdict (by feedback time) on an alert wins, so an operator who changes a false
    positive to a true positive, or reopens the alert (verdict ``unknown``: the review is
    withdrawn), lifts the suppression; verdicts arriving out of order do not undo newer ones.
    """

    __slots__ = ("_by_label", "_size", "_verdicts")

    def __init__(self, size: int) -> None:
        self._size = size
        # alert_id -> (verdict ts, is false positive, label, boxes); insertion order = age
        self._verdicts: dict[str, tuple[int, bool, str, tuple[Box, ...]]] = {}
        self._by_label: dict[str, tuple[Box, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_label)

    def apply(self, feedback: Feedback, label: str, boxes: tuple[Box, ...]) -> None:
        """Feed one resolved verdict (``label`` may be :data:`WILDCARD`)."""
        verdicts = self._verdicts
        previous = verdicts.get(feedback.alert_id)
        if previous is not None and previous[0] > feedback.ts:
            return
        verdicts.pop(feedback.alert_id, None)
        verdicts[feedback.alert_id] = (
            feedback.ts,
            feedback.verdict is Verdict.FALSE_POSITIVE,
            label,
            boxes,
        )
        while len(verdicts) > self._size:
            del verdicts[next(iter(verdicts))]
        self._reindex()

    def _reindex(self) -> None:
        by_label: dict[str, list[Box]] = {}
        for _, is_fp, label, boxes in self._verdicts.values():
            if is_fp and boxes:
                by_label.setdefault(label, []).extend(boxes)
        self._by_label = {k: tuple(v) for k, v in by_label.items()}

    def matches(self, label: str, box: Box, thr: float) -> bool:
        """Whether the box is similar (IoU >= thr) to a false-positive box of its label."""
        x1, y1, x2, y2 = box
        for key in (label, WILDCARD):
            boxes = self._by_label.get(key)
            if boxes:
                for bx1, by1, bx2, by2 in boxes:
                    if iou(x1, y1, x2, y2, bx1, by1, bx2, by2) >= thr:
                        return True
        return False

    def to_state(self) -> list[Any]:
        """JSON-able state, oldest first."""
        return [
            [k, ts, is_fp, label, [list(b) for b in boxes]]
            for k, (ts, is_fp, label, boxes) in self._verdicts.items()
        ]

    def load_state(self, state: list[Any]) -> None:
        """Replace the contents with :meth:`to_state` output."""
        self._verdicts = {
            str(k): (int(ts), bool(is_fp), str(label), tuple(_box(b) for b in boxes))
            for k, ts, is_fp, label, boxes in state
        }
        self._reindex()


def _box(values: list[Any]) -> Box:
    x1, y1, x2, y2 = values
    return (float(x1), float(y1), float(x2), float(y2))
