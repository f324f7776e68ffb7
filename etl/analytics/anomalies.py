"""Count anomalies: an hour against the same hour of the week in the weeks before.

For each camera x sensor x metric, the history is the metric's values at the same hour of the
previous weeks (``sensor_hourly`` rows; a week without a row counts as missing, not zero: the
camera may have been off). With at least ``min_weeks`` values, the robust z-score is
``0.6745 * (value - median) / MAD`` (Iglewicz and Hoaglin); MAD is floored at ``mad_floor``
because a perfectly flat history (MAD 0) would make any change infinite.
A finding becomes an :class:`Alert` with rule ``count_anomaly`` and an id that depends only on
camera, sensor, hour and metric, so a rerun finds and publishes the same alert again (the
asset publishes only ids not already recorded).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from schemas.records import (
    Alert,
    AlertLifecycle,
    CrossingDirection,
    SensorEventKind,
    SensorKind,
    Severity,
)
from schemas.records.ids import alert_id

Z_FACTOR = 0.6745


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One metric of one camera x sensor hour beyond the threshold."""

    hour: datetime
    camera_id: str
    sensor_id: str
    metric: str
    value: float
    median: float
    mad: float
    score: float
    history_weeks: int

    @property
    def alert_id(self) -> str:
        hour_us = int(self.hour.timestamp()) * 1_000_000
        return alert_id(self.camera_id, self.sensor_id, hour_us, f"count_anomaly:{self.metric}")


def robust_z(
    value: float, history: Sequence[float], mad_floor: float = 1.0
) -> tuple[float, float, float]:
    """(score, median, MAD) of ``value`` against ``history`` (non-empty)."""
    med = statistics.median(history)
    mad = statistics.median(abs(h - med) for h in history)
    return Z_FACTOR * (value - med) / max(mad, mad_floor), float(med), float(mad)


def find(
    hour: datetime,
    rows: Iterable[tuple[str, str, int, Mapping[str, float]]],
    *,
    threshold: float = 3.5,
    min_weeks: int = 3,
    mad_floor: float = 1.0,
) -> list[Anomaly]:
    """Anomalies of ``hour`` from (camera_id, sensor_id, weeks back, metrics) rows.

    Rows with ``weeks back`` 0 are the hour itself; 1.. the history. A camera x sensor without
    a row for the hour is skipped (no activity is not an anomaly this asset reports).
    """
    current: dict[tuple[str, str], Mapping[str, float]] = {}
    past: dict[tuple[str, str], list[Mapping[str, float]]] = {}
    for camera, sensor, back, metrics in rows:
        if back == 0:
            current[(camera, sensor)] = metrics
        else:
            past.setdefault((camera, sensor), []).append(metrics)
    out: list[Anomaly] = []
    for (camera, sensor), now in sorted(current.items()):
        history = past.get((camera, sensor), [])
        if len(history) < min_weeks:
            continue
        for metric in sorted(now):
            values = [float(h[metric]) for h in history]
            score, med, mad = robust_z(float(now[metric]), values, mad_floor)
            if abs(score) > threshold:
                out.append(
                    Anomaly(hour, camera, sensor, metric, float(now[metric]), med, mad,
                            round(score, 6), len(history))
                )  # fmt: skip
    return out


_KIND = {
    "crossings_a_to_b": (SensorEventKind.LINE_CROSS, CrossingDirection.A_TO_B),
    "crossings_b_to_a": (SensorEventKind.LINE_CROSS, CrossingDirection.B_TO_A),
    "entries": (SensorEventKind.ZONE_ENTER, None),
}


def alerts(anomaly: Anomaly, severity: Severity = Severity.MEDIUM) -> list[Alert]:
    """The lifecycle messages of an anomaly's alert: ``new`` then ``end`` (the hour is over).

    Consumers read ``top_score`` as a confidence in 0..1, so it carries |z| / 10 clamped to 1;
    the z-score itself is in the ``anomalies`` table.
    """
    kind, direction = _KIND.get(anomaly.metric, (SensorEventKind.UNKNOWN, None))
    start = int(anomaly.hour.astimezone(UTC).timestamp()) * 1_000_000
    end = start + 3_600_000_000 - 1
    new = Alert(
        alert_id=anomaly.alert_id,
        camera_id=anomaly.camera_id,
        sensor_id=anomaly.sensor_id,
        kind=kind,
        rule=SensorKind.COUNT_ANOMALY,
        lifecycle=AlertLifecycle.NEW,
        revision=0,
        severity=severity,
        label=anomaly.metric,
        top_score=min(1.0, abs(anomaly.score) / 10.0),
        start_ts=start,
        updated_ts=start,
        event_count=int(anomaly.value),
        direction=direction,
    )
    ended = replace(new, lifecycle=AlertLifecycle.END, revision=1, end_ts=end, updated_ts=end)
    return [new, ended]
