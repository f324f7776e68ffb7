"""Alert quality of a day from the alerts and the operators' verdicts.

An alert is *reviewed* when it has at least one verdict; its latest verdict decides whether it
was confirmed (true positive) or a false positive. Precision = confirmed / reviewed. False
positives are counted by camera, rule and reason (the verdict's note, ``unspecified`` when
empty), and the noisiest cameras (most false positives, then fewest confirmed) are listed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert that started in the day."""

    alert_id: str
    camera_id: str
    rule: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """An operator verdict; ``ts`` orders several verdicts on one alert."""

    alert_id: str
    verdict: str
    ts: float
    note: str | None = None


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One row of ``alert_quality_daily``: a camera x rule x reason group."""

    camera_id: str
    rule: str
    reason: str
    alerts: int
    reviewed: int
    confirmed: int
    false_positives: int


@dataclass(frozen=True, slots=True)
class Quality:
    alerts: int
    reviewed: int
    confirmed: int
    false_positives: int
    rows: tuple[QualityRow, ...]

    @property
    def reviewed_share(self) -> float | None:
        return self.reviewed / self.alerts if self.alerts else None

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.reviewed if self.reviewed else None


def reason_of(note: str | None) -> str:
    """A false positive's reason: its note's first line, trimmed, at most 64 characters."""
    text = (note or "").strip().splitlines()[0].strip() if (note or "").strip() else ""
    return text[:64] or "unspecified"


def quality(alerts: Iterable[AlertRow], verdicts: Iterable[Verdict]) -> Quality:
    """Reviewed, confirmed and false positives overall and per camera x rule x reason.

    Alerts without a verdict count in their camera x rule group with reason ``unreviewed``;
    confirmed ones with reason ``confirmed``.
    """
    latest: dict[str, Verdict] = {}
    for v in verdicts:
        cur = latest.get(v.alert_id)
        if cur is None or (v.ts, v.verdict) > (cur.ts, cur.verdict):
            latest[v.alert_id] = v
    groups: Counter[tuple[str, str, str, str]] = Counter()
    total = reviewed = confirmed = fps = 0
    for a in alerts:
        total += 1
        last = latest.get(a.alert_id)
        if last is None:
            groups[(a.camera_id, a.rule, "unreviewed", "none")] += 1
            continue
        reviewed += 1
        if last.verdict == "false_positive":
            fps += 1
            groups[(a.camera_id, a.rule, reason_of(last.note), "fp")] += 1
        else:
            confirmed += 1
            groups[(a.camera_id, a.rule, "confirmed", "tp")] += 1
    rows = [
        QualityRow(cam, rule, reason, n, 0 if what == "none" else n,
                   n if what == "tp" else 0, n if what == "fp" else 0)
        for (cam, rule, reason, what), n in sorted(groups.items())
    ]  # fmt: skip
    return Quality(total, reviewed, confirmed, fps, tuple(rows))


def noisiest(q: Quality, top: int = 10) -> list[tuple[str, int, int, int]]:
    """(camera, false positives, confirmed, alerts) of the ``top`` noisiest cameras."""
    per: dict[str, list[int]] = {}
    for r in q.rows:
        acc = per.setdefault(r.camera_id, [0, 0, 0])
        acc[0] += r.false_positives
        acc[1] += r.confirmed
        acc[2] += r.alerts
    ranked = sorted(per.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))
    return [(cam, fp, tp, n) for cam, (fp, tp, n) in ranked[:top] if fp > 0]


def markdown(rows: Iterable[tuple[str, int, int, int]]) -> str:
    """A markdown table of :func:`noisiest`."""
    lines = ["| camera | false positives | confirmed | alerts |", "|---|---|---|---|"]
    lines += [f"| {cam} | {fp} | {tp} | {n} |" for cam, fp, tp, n in rows]
    return "\n".join(lines)
