"""Pure analytics transforms on small fixtures with exact expected values."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from etl.analytics import anomalies, dwell, health, heatmap, quality, storage
from etl.errors import EtlError
from schemas.records import AlertLifecycle, CrossingDirection, SensorEventKind, SensorKind

HOUR = datetime(2024, 5, 6, 13, tzinfo=UTC)
US = 1_000_000


def test_dwell_percentiles_interpolate_like_quantile_exact_inclusive() -> None:
    assert dwell.percentile([4.0, 10.0], 0.5) == 7.0
    assert dwell.percentile([4.0, 10.0], 0.95) == pytest.approx(9.7)
    assert dwell.dwell_summary([3.0, 1.0, 2.0, 10.0, 4.0]) == pytest.approx((3.0, 8.8))
    assert dwell.dwell_summary([5.0]) == (5.0, 5.0)
    assert dwell.dwell_summary([]) == (None, None)
    with pytest.raises(EtlError):
        dwell.percentile([1.0], 1.5)


@pytest.mark.parametrize(
    ("box", "cell"),
    [
        ((0.1, 0.1, 0.2, 0.5), (9, 18)),
        ((0.9, 0.1, 1.0, 1.0), (60, 35)),  # bottom edge -> last row, not 36
        ((0.0, 0.0, 0.0, 0.0), (0, 0)),
        ((1.0, 0.5, 1.0, 1.0), (63, 35)),  # right edge -> last column
        ((-0.2, 0.0, 0.0, -0.1), (0, 0)),  # outside the frame clamps
    ],
)
def test_heatmap_cell_is_the_bottom_centre(
    box: tuple[float, float, float, float], cell: tuple[int, int]
) -> None:
    assert heatmap.cell_of(box[0], box[2], box[3]) == cell


def test_heatmap_grid_counts_and_picture() -> None:
    counts = heatmap.cells([(0.1, 0.1, 0.2, 0.5)] * 3 + [(0.9, 0.1, 1.0, 1.0)])
    assert counts == {(9, 18): 3, (60, 35): 1}
    g = heatmap.grid((gx, gy, n) for (gx, gy), n in counts.items())
    assert g.shape == (36, 64) and g.sum() == 4 and g[18, 9] == 3 and g[35, 60] == 1
    img = heatmap.render(g, width=64)
    assert img.shape == (36, 64, 3) and img.dtype == np.uint8
    # The hottest cell is blended red over dark grey; an empty cell stays the background.
    assert tuple(img[18, 9]) == (169, 16, 16)
    assert tuple(img[0, 0]) == (40, 40, 40)
    frame = np.full((720, 1280, 3), 200, dtype=np.uint8)
    over = heatmap.render(g, frame, width=128)
    assert over.shape == (72, 128, 3) and tuple(over[0, 0]) == (200, 200, 200)


def test_heatmap_keys() -> None:
    assert heatmap.png_key("cam-1", HOUR) == "reports/heatmaps/cam-1/2024/05/06/13.png"
    assert heatmap.png_key("cam-1", None, HOUR) == "reports/heatmaps/cam-1/2024/05/06/day.png"


def _rows(history: list[int], now: int) -> list[tuple[str, str, int, dict[str, float]]]:
    rows = [("cam", "line", k + 1, {"crossings_a_to_b": float(v)}) for k, v in enumerate(history)]
    return [("cam", "line", 0, {"crossings_a_to_b": float(now)}), *rows]


def test_anomaly_scores_with_median_and_mad() -> None:
    assert anomalies.robust_z(60, [10, 11, 9, 10]) == pytest.approx((33.725, 10.0, 0.5))
    assert anomalies.robust_z(20, [10, 14, 6, 10]) == pytest.approx((3.3725, 10.0, 2.0))
    found = anomalies.find(HOUR, _rows([10, 11, 9, 10], 60))
    assert [(a.metric, a.value, a.median, a.mad, a.score, a.history_weeks) for a in found] == [
        ("crossings_a_to_b", 60.0, 10.0, 0.5, 33.725, 4)
    ]
    assert anomalies.find(HOUR, _rows([10, 14, 6, 10], 20)) == []  # 3.37 <= 3.5
    assert anomalies.find(HOUR, _rows([10, 11], 60)) == []  # two weeks: too little history
    assert len(anomalies.find(HOUR, _rows([10, 11, 9], 0))) == 1  # a drop counts too


def test_anomaly_alert_is_deterministic_and_ends_with_the_hour() -> None:
    (a,) = anomalies.find(HOUR, _rows([10, 11, 9, 10], 60))
    (again,) = anomalies.find(HOUR, _rows([10, 11, 9, 10], 60))
    assert a.alert_id == again.alert_id
    new, end = anomalies.alerts(a)
    start_us = int(HOUR.timestamp()) * US
    assert (new.lifecycle, new.revision, new.start_ts, new.end_ts) == (
        AlertLifecycle.NEW, 0, start_us, None
    )  # fmt: skip
    assert (end.lifecycle, end.revision, end.end_ts) == (
        AlertLifecycle.END, 1, start_us + 3600 * US - 1
    )  # fmt: skip
    assert new.rule is SensorKind.COUNT_ANOMALY and new.kind is SensorEventKind.LINE_CROSS
    assert new.direction is CrossingDirection.A_TO_B and new.event_count == 60
    assert new.alert_id == end.alert_id == a.alert_id


def test_health_gaps_uptime_and_outliers() -> None:
    day = datetime(2024, 5, 6, tzinfo=UTC)
    start = int(day.timestamp()) * US
    # 1 fps from 00:00:00 to 00:59:59, silence until 02:00:00, then 1 fps until 23:59:59.
    frames = [start + s * US for s in range(3600)] + [start + s * US for s in range(7200, 86400)]
    gaps = health.gaps(frames, start, 1.0)
    assert gaps == [health.Gap(start + 3599 * US, 3601.0)]
    # detections in every 10th frame, except hour 5 where every frame has one
    hits = [t for t in frames if (t - start) // US % 10 == 0 or (t - start) // (3600 * US) == 5]
    h = health.day_health("cam", day, 1.0, frames, hits)
    assert (h.frames, h.expected_frames, h.uptime) == (82800, 86400, round(1 - 3601 / 86400, 6))
    assert h.longest_gap == health.Gap(start + 3599 * US, 3601.0) and h.gap_seconds == 3601.0
    assert h.outlier_hours == (5,)
    dead = health.day_health("cam", day, 2.0, [], [])
    assert dead.uptime == 0.0 and dead.gaps == (health.Gap(start, 86400.0),)


def test_alert_quality_precision_and_noisiest() -> None:
    alerts = [
        quality.AlertRow("a1", "cam-1", "zone"),
        quality.AlertRow("a2", "cam-1", "zone"),
        quality.AlertRow("a3", "cam-1", "tripwire"),
        quality.AlertRow("a4", "cam-2", "zone"),
        quality.AlertRow("a5", "cam-2", "zone"),
    ]
    verdicts = [
        quality.Verdict("a1", "false_positive", 1.0, "shadow\nlong story"),
        quality.Verdict("a2", "false_positive", 1.0, None),
        quality.Verdict("a3", "false_positive", 1.0, "shadow"),
        quality.Verdict("a3", "true_positive", 2.0),  # the later verdict wins
        quality.Verdict("a4", "true_positive", 1.0),
    ]
    q = quality.quality(alerts, verdicts)
    assert (q.alerts, q.reviewed, q.confirmed, q.false_positives) == (5, 4, 2, 2)
    assert q.precision == 0.5 and q.reviewed_share == 0.8
    assert [(r.camera_id, r.rule, r.reason, r.alerts, r.false_positives) for r in q.rows] == [
        ("cam-1", "tripwire", "confirmed", 1, 0),
        ("cam-1", "zone", "shadow", 1, 1),
        ("cam-1", "zone", "unspecified", 1, 1),
        ("cam-2", "zone", "confirmed", 1, 0),
        ("cam-2", "zone", "unreviewed", 1, 0),
    ]
    top = quality.noisiest(q)
    assert top == [("cam-1", 2, 1, 3)]
    assert quality.markdown(top).splitlines()[2] == "| cam-1 | 2 | 1 | 3 |"
    assert quality.quality([], []).precision is None


def test_storage_usage_by_prefix_and_camera() -> None:
    rows = storage.s3_usage(
        [
            ("evidence/cam-1/2024/05/06/13/1.jpg", 100),
            ("evidence/cam-1/2024/05/06/13/2.jpg", 50),
            ("evidence/cam-2/2024/05/06/13/1.jpg", 10),
            ("archive/vidsight.frames/dt=2024-05-06/hour=13/partition=000/0-9.avro", 7),
            ("reports/heatmaps/cam-1/2024/05/06/13.png", 3),
        ]
    )
    assert [(r.object, r.camera_id, r.bytes, r.items) for r in rows] == [
        ("archive/vidsight.frames", "*", 7, 1),
        ("evidence", "cam-1", 150, 2),
        ("evidence", "cam-2", 10, 1),
        ("reports/heatmaps", "cam-1", 3, 1),
    ]
    assert storage.total(rows) == {"s3": 170}
