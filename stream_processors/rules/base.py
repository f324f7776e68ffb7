"""Sensor rules' common part: the context they report to, identity, filters and schedule.

A rule is compiled once from its SensorConfig (geometry, filters, schedule) and keeps a small
per-track state that the camera snapshots. Rules never build records themselves: they call
their :class:`RuleContext` (the camera), which turns what they saw into SensorEvents and
feeds the alert grouping.

A sensor kind is one module (``zone.py``, ``tripwire.py``, ``speed.py``, ...) that defines its
rule class and a :class:`SensorKindSpec` named ``KIND``: its validation, the kind-specific
SensorConfig fields it takes, and its rule. ``kinds.py`` lists those modules; nothing else
branches on a sensor kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from schemas.records import CrossingDirection, SensorConfig, SensorEventKind, SensorKind, Severity
from stream_processors.errors import SensorConfigError
from stream_processors.rules.geometry import as_coords
from stream_processors.rules.options import US, EngineOptions
from stream_processors.rules.schedule import ActiveSchedule
from stream_processors.rules.tracks import Track

NEVER = 2**63 - 1
"""An event time later than any real one."""

Fail = Callable[[str, str], SensorConfigError]
"""Builds the error for (field, reason) of the sensor being checked."""


class RuleContext(Protocol):
    """What a rule needs from its camera."""

    tracks: dict[int, Track]

    def event(
        self,
        rule: Rule,
        kind: SensorEventKind,
        track: Track,
        ts: int,
        *,
        alertable: bool,
        direction: CrossingDirection | None = None,
        count: int | None = None,
        dwell_us: int | None = None,
        stationary: bool | None = None,
        speed_kmh: float | None = None,
    ) -> None:
        """Publish one sensor event about a track (and group it into an alert if alertable).

        ``stationary`` overrides the track's current stationary flag when the behaviour began
        earlier than the event (a loiter).
        """

    def occupancy(
        self,
        rule: Rule,
        ts: int,
        *,
        seq: int,
        evidence_uri: str | None,
        label: str,
        count: int,
        score: float,
        threshold: int | None,
    ) -> None:
        """Publish a count of objects in an area; hold an alert open at/above ``threshold``."""

    def mark_dirty(self, rule: Rule) -> None:
        """Ask for ``rule.flush`` at the end of the current step."""


class Rule:
    """What every sensor rule has: identity, per-object filters, schedule, alerting.

    Class attributes say how the camera drives a kind: ``area_filter`` rules are not evaluated
    per object but restrict which objects every other rule sees (:meth:`admits`);
    ``needs_timers`` rules get :meth:`due` calls when event time reaches ``next_due``.
    """

    area_filter: ClassVar[bool] = False
    needs_timers: ClassVar[bool] = False

    __slots__ = (
        "active",
        "camera_id",
        "config",
        "gap_us",
        "inertia",
        "kind",
        "labels",
        "max_area",
        "max_ratio",
        "median_thr",
        "min_area",
        "min_ratio",
        "min_score",
        "next_due",
        "schedule",
        "sensor_id",
        "severity",
    )

    def __init__(self, cfg: SensorConfig, opts: EngineOptions) -> None:
        self.config = cfg
        self.sensor_id = cfg.sensor_id
        self.camera_id = cfg.camera_id
        self.kind: SensorKind = cfg.kind
        self.labels: frozenset[str] | None = frozenset(cfg.labels) if cfg.labels else None
        self.min_score = cfg.min_score
        # The sensor's own threshold, else the deployment-wide option, else the per-frame one.
        thr = cfg.score_threshold if cfg.score_threshold is not None else opts.median_threshold
        self.median_thr = cfg.min_score if thr is None else thr
        self.inertia = cfg.inertia_frames
        # Missing bounds become infinities so the hot loop compares floats without None checks.
        self.min_area = 0.0 if cfg.min_area is None else cfg.min_area
        self.max_area = math.inf if cfg.max_area is None else cfg.max_area
        self.min_ratio = 0.0 if cfg.min_ratio is None else cfg.min_ratio
        self.max_ratio = math.inf if cfg.max_ratio is None else cfg.max_ratio
        self.schedule = None if cfg.schedule is None else ActiveSchedule(cfg.schedule)
        self.severity: Severity = cfg.severity
        self.gap_us = round(cfg.group_gap_s * US)
        self.active = True
        self.next_due = NEVER

    def fingerprint(self) -> list[Any]:
        """What the per-track state depends on: state survives a redefinition keeping it."""
        return [self.kind.value, [list(c) for c in as_coords(self.config.points)]]

    def observe(self, ctx: RuleContext, track: Track, ax: float, ay: float, ok: bool) -> None:
        """Look at a track's latest sighting (anchor ax, ay at ``track.last_seen``).

        ``ok`` is False when a filter rejected the sighting: it then only tells where the
        track is, never fires anything.
        """

    def admits(self, x: float, y: float) -> bool:
        """Area filters: whether an object anchored at (x, y) is considered at all."""
        return True

    def due(self, ctx: RuleContext, watermark: int) -> None:
        """Fire what event time reaching ``watermark`` makes due (``needs_timers`` kinds)."""

    def flush(self, ctx: RuleContext) -> None:
        """Publish what the rule held back during a step (see ``RuleContext.mark_dirty``)."""

    def track_gone(self, ctx: RuleContext, track: Track, exit_ts: int) -> None:
        """Forget a track that is gone (it left the scene at ``exit_ts``)."""

    def reset(self, ctx: RuleContext, ts: int, seq: int) -> None:
        """Forget every track (the schedule closed): nothing is tracked while inactive."""

    def state(self) -> list[Any]:
        """JSON-able per-track state."""
        return []

    def load(self, state: list[Any]) -> None:
        """Restore :meth:`state` output."""


@dataclass(frozen=True, slots=True)
class SensorKindSpec:
    """One sensor kind: what a definition of it may hold, how it is checked, its rule."""

    kind: SensorKind
    rule: Callable[[SensorConfig, EngineOptions], Rule]
    """Compiles a validated definition."""
    check: Callable[[SensorConfig, Fail], None]
    """Kind-specific checks (points, its own fields), after the common ones passed."""
    fields: tuple[str, ...] = ()
    """Kind-specific SensorConfig fields (same names as the YAML keys) this kind takes;
    a field of another kind set to anything but its default is refused."""
    summary: str = ""
    """One line for error messages and documentation."""
