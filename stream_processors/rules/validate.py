"""Semantic checks of a :class:`SensorConfig`, shared by the YAML loader and the engine.

The YAML loader checks types and names; these checks are about meaning (a tripwire has two
points, a polygon does not cross itself, a minimum is not above its maximum) and also run on
records that arrive on the sensors topic, so a bad definition written by another tool is
rejected with the same message. Field names in messages are the YAML keys users write.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.records import DirectionFilter, SensorConfig, SensorKind, Severity
from stream_processors.errors import SensorConfigError
from stream_processors.rules.geometry import as_coords, self_intersection, signed_area

POLYGON_KINDS = frozenset({SensorKind.ZONE, SensorKind.LOITERING, SensorKind.AOI})
MIN_POLYGON_AREA = 1e-6
"""Smallest polygon area accepted (a millionth of the frame: about 2 pixels at 1080p)."""

_Fail = Callable[[str, str], SensorConfigError]


def check_sensor(cfg: SensorConfig) -> None:
    """Raise :class:`SensorConfigError` naming the sensor and field when ``cfg`` is invalid."""

    def fail(field: str, reason: str) -> SensorConfigError:
        return SensorConfigError(cfg.sensor_id or None, field, reason)

    if not cfg.sensor_id:
        raise fail("id", "must be a non-empty string")
    if not cfg.camera_id:
        raise fail("camera", "must be a non-empty string")
    if cfg.kind not in POLYGON_KINDS and cfg.kind is not SensorKind.TRIPWIRE:
        allowed = ", ".join(k.value for k in SensorKind if k is not SensorKind.UNKNOWN)
        raise fail("kind", f"unknown kind {cfg.kind.value!r}; allowed: {allowed}")
    _check_points(cfg, fail)
    _check_kind_fields(cfg, fail)
    _check_filters(cfg, fail)
    if cfg.severity is Severity.UNKNOWN:
        raise fail("severity", "unknown severity; allowed: low, medium, high, critical")
    if not (cfg.group_gap_s > 0 and math.isfinite(cfg.group_gap_s)):
        raise fail("group_gap_s", f"must be a positive number of seconds, got {cfg.group_gap_s}")
    if cfg.inertia_frames < 1:
        raise fail("inertia_frames", f"must be at least 1, got {cfg.inertia_frames}")
    if cfg.schedule is not None:
        _check_schedule(cfg, fail)
    if cfg.timezone is not None:
        _check_timezone(cfg.timezone, "timezone", fail)


def _check_points(cfg: SensorConfig, fail: _Fail) -> None:
    coords = as_coords(cfg.points)
    for i, (x, y) in enumerate(coords):
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise fail("points", f"point {i} ({x}, {y}) is outside the normalised frame 0..1")
    if cfg.kind is SensorKind.TRIPWIRE:
        if len(coords) != 2:
            raise fail("points", f"a tripwire needs exactly 2 points, got {len(coords)}")
        if coords[0] == coords[1]:
            raise fail("points", "the two tripwire points are the same point")
        return
    if len(coords) < 3:
        raise fail(
            "points", f"a {cfg.kind.value} polygon needs at least 3 points, got {len(coords)}"
        )
    for i in range(len(coords)):
        if coords[i] == coords[(i + 1) % len(coords)]:
            raise fail("points", f"points {i} and {(i + 1) % len(coords)} are the same point")
    crossing = self_intersection(coords)
    if crossing is not None:
        i, j = crossing
        raise fail("points", f"the polygon crosses itself (edges {i} and {j} intersect)")
    if abs(signed_area(coords)) < MIN_POLYGON_AREA:
        raise fail("points", "the polygon has (almost) no area")


def _check_kind_fields(cfg: SensorConfig, fail: _Fail) -> None:
    if cfg.kind is SensorKind.TRIPWIRE:
        if cfg.direction is DirectionFilter.UNKNOWN:
            raise fail("direction", "unknown direction; allowed: both, a_to_b, b_to_a")
    elif cfg.direction is not DirectionFilter.BOTH:
        raise fail("direction", f"only tripwires have a direction, not a {cfg.kind.value}")
    if cfg.kind is SensorKind.LOITERING:
        if cfg.seconds is None:
            raise fail("seconds", "a loitering sensor needs seconds (time inside before it fires)")
        if not (cfg.seconds > 0 and math.isfinite(cfg.seconds)):
            raise fail("seconds", f"must be a positive number of seconds, got {cfg.seconds}")
    elif cfg.seconds is not None:
        raise fail("seconds", f"only loitering sensors take seconds, not a {cfg.kind.value}")
    if cfg.occupancy_threshold is not None:
        if cfg.kind is not SensorKind.ZONE:
            raise fail("occupancy_threshold", f"only zones count occupancy, not a {cfg.kind.value}")
        if cfg.occupancy_threshold < 1:
            raise fail("occupancy_threshold", f"must be at least 1, got {cfg.occupancy_threshold}")


def _check_filters(cfg: SensorConfig, fail: _Fail) -> None:
    for label in cfg.labels:
        if not label:
            raise fail("labels", "labels must be non-empty strings")
    if not 0.0 <= cfg.min_score <= 1.0:
        raise fail("min_score", f"must be within 0..1, got {cfg.min_score}")
    if cfg.score_threshold is not None and not 0.0 <= cfg.score_threshold <= 1.0:
        raise fail("score_threshold", f"must be within 0..1, got {cfg.score_threshold}")
    for name, value in (("min_area", cfg.min_area), ("max_area", cfg.max_area)):
        if value is not None and not 0.0 < value <= 1.0:
            raise fail(name, f"must be a fraction of the frame within (0, 1], got {value}")
    if cfg.min_area is not None and cfg.max_area is not None and cfg.min_area > cfg.max_area:
        raise fail("min_area", f"{cfg.min_area} is above max_area {cfg.max_area}")
    for name, value in (("min_ratio", cfg.min_ratio), ("max_ratio", cfg.max_ratio)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise fail(name, f"must be a positive width/height ratio, got {value}")
    if cfg.min_ratio is not None and cfg.max_ratio is not None and cfg.min_ratio > cfg.max_ratio:
        raise fail("min_ratio", f"{cfg.min_ratio} is above max_ratio {cfg.max_ratio}")


def _check_schedule(cfg: SensorConfig, fail: _Fail) -> None:
    schedule = cfg.schedule
    assert schedule is not None
    for day in schedule.days:
        if not 1 <= day <= 7:
            raise fail("schedule.days", f"ISO weekdays are 1 (Monday) .. 7 (Sunday), got {day}")
    for i, window in enumerate(schedule.hours):
        if not 0 <= window.start_min <= 1439:
            raise fail(f"schedule.hours[{i}]", f"start minute {window.start_min} not in 0..1439")
        if not 0 <= window.end_min <= 1440:
            raise fail(f"schedule.hours[{i}]", f"end minute {window.end_min} not in 0..1440")
        if window.start_min == window.end_min:
            raise fail(f"schedule.hours[{i}]", "start and end are the same minute (empty window)")
    _check_timezone(schedule.timezone, "schedule.timezone", fail)


def _check_timezone(name: str, field: str, fail: _Fail) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise fail(field, f"unknown IANA timezone {name!r}") from exc
