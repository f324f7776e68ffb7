"""Freshness of a source while cameras are active: a pure judgement for the freshness checks.

A source is stale when its newest event is older than the allowed lag. That only means
something while frames are expected: with no enabled camera that has a frame rate, every
store goes quiet on purpose, and a freshness failure then would be noise that teaches people
to ignore the check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Camera:
    """A row of the cameras table, as far as freshness cares."""

    camera_id: str
    enabled: bool
    fps: float


@dataclass(frozen=True, slots=True)
class Freshness:
    """The verdict on one source; ``skipped`` when no data is expected."""

    passed: bool
    skipped: bool
    description: str
    lag_s: float | None = None


def active_cameras(cameras: Iterable[Camera]) -> list[str]:
    """Ids of the cameras that are expected to produce frames (enabled, fps above 0)."""
    return sorted(c.camera_id for c in cameras if c.enabled and c.fps > 0)


def judge(
    source: str,
    newest: datetime | None,
    now: datetime,
    max_lag: timedelta,
    active: Iterable[str],
) -> Freshness:
    """Whether ``source`` is fresh enough; skipped (and passed) when no camera is active."""
    cams = list(active)
    if not cams:
        return Freshness(True, True, f"{source}: skipped, no active camera (no data expected)")
    if newest is None:
        return Freshness(False, False, f"{source}: no data while {len(cams)} cameras are active")
    lag = now - newest
    verdict = "within" if lag <= max_lag else "beyond"
    return Freshness(
        lag <= max_lag,
        False,
        f"{source}: newest event {newest:%Y-%m-%d %H:%M:%S} UTC, lag {lag.total_seconds():.0f}s "
        f"{verdict} {max_lag.total_seconds():.0f}s ({len(cams)} active cameras)",
        lag.total_seconds(),
    )
