"""Camera health of one UTC day from its frame times: uptime, gaps and detection-rate outliers.

The frames topic is the camera's heartbeat (one FrameRef per sampled frame, motion or not),
so the frame times say when the camera was up. A *gap* is a silence longer than
``max(gap_min_s, gap_frames / fps)`` between two frames (or between the day's start/end and
its first/last frame, while the camera was expected to run: a camera dead all day has one gap
of 24 h). *Uptime* is the share of the day outside gaps. The *detection rate* of an hour is
frames with detections / frames; an hour is an outlier when its robust z-score against the
day's other hours exceeds the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from etl.analytics.anomalies import robust_z

US = 1_000_000
DAY_US = 86_400 * US


@dataclass(frozen=True, slots=True)
class Gap:
    """A silence: its start (UTC microseconds) and length in seconds."""

    start_us: int
    length_s: float


@dataclass(frozen=True, slots=True)
class Health:
    """One camera's day."""

    camera_id: str
    fps_configured: float
    frames: int
    expected_frames: int
    uptime: float
    gaps: tuple[Gap, ...]
    detection_rate: float
    outlier_hours: tuple[int, ...] = field(default_factory=tuple)

    @property
    def gap_seconds(self) -> float:
        return sum(g.length_s for g in self.gaps)

    @property
    def longest_gap(self) -> Gap | None:
        return max(self.gaps, key=lambda g: (g.length_s, -g.start_us), default=None)


def gaps(
    frame_us: Sequence[int],
    day_start_us: int,
    fps: float,
    *,
    gap_min_s: float = 5.0,
    gap_frames: float = 10.0,
) -> list[Gap]:
    """The silences of a day given its sorted frame times."""
    limit_us = int(max(gap_min_s, gap_frames / fps if fps > 0 else gap_min_s) * US)
    edges = [day_start_us, *frame_us, day_start_us + DAY_US]
    out: list[Gap] = []
    for a, b in pairwise(edges):
        if b - a > limit_us:
            out.append(Gap(a, (b - a) / US))
    return out


def hourly_rates(
    frame_us: Sequence[int], detection_frame_us: Sequence[int], day_start_us: int
) -> dict[int, float]:
    """Detection rate per hour of the day that had frames."""
    frames = [0] * 24
    hits = [0] * 24
    for t in frame_us:
        frames[min(23, (t - day_start_us) // (3600 * US))] += 1
    for t in detection_frame_us:
        hits[min(23, (t - day_start_us) // (3600 * US))] += 1
    return {h: hits[h] / frames[h] for h in range(24) if frames[h]}


def outliers(
    rates: Mapping[int, float], threshold: float = 3.5, mad_floor: float = 0.02
) -> list[int]:
    """Hours whose detection rate is a robust outlier against the day's other hours."""
    out = []
    for hour, rate in sorted(rates.items()):
        rest = [r for h, r in rates.items() if h != hour]
        if len(rest) < 3:
            continue
        score, _, _ = robust_z(rate, rest, mad_floor)
        if abs(score) > threshold:
            out.append(hour)
    return out


def day_health(
    camera_id: str,
    day: datetime,
    fps: float,
    frame_us: Sequence[int],
    detection_frame_us: Sequence[int],
    *,
    gap_min_s: float = 5.0,
    threshold: float = 3.5,
) -> Health:
    """Health of one camera on the UTC day starting at ``day``; times are UTC microseconds."""
    start = int(day.timestamp()) * US
    frames = sorted(t for t in frame_us if start <= t < start + DAY_US)
    hits = sorted(t for t in detection_frame_us if start <= t < start + DAY_US)
    silences = gaps(frames, start, fps, gap_min_s=gap_min_s)
    down_s = sum(g.length_s for g in silences)
    rates = hourly_rates(frames, hits, start)
    return Health(
        camera_id=camera_id,
        fps_configured=fps,
        frames=len(frames),
        expected_frames=round(fps * (DAY_US / US)),
        uptime=round(1.0 - down_s / (DAY_US / US), 6),
        gaps=tuple(silences),
        detection_rate=round(len(hits) / len(frames), 6) if frames else 0.0,
        outlier_hours=tuple(outliers(rates, threshold)),
    )


def day_hours(day: datetime) -> list[datetime]:
    """The 24 hour starts of a UTC day."""
    return [day + timedelta(hours=h) for h in range(24)]
