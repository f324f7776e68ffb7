"""Semantic checks of a :class:`SensorConfig`, shared by the YAML loader and the engine.

The YAML loader checks types and names; these checks are about meaning (a tripwire has two
points, a polygon does not cross itself, a minimum is not above its maximum) and also run on
records that arrive on the sensors topic, so a bad definition written by another tool is
rejected with the same message. Field names in messages are the YAML keys users write.
"""

from __future__ import annotations

import math
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.records import SensorConfig, Severity
from stream_processors.errors import SensorConfigError
from stream_processors.rules.base import Fail
from stream_processors.rules.kinds import KIND_FIELDS, KINDS, kind_spec, kinds_taking
from stream_processors.rules.shapes import MAX_POLYGON_POINTS, MIN_POLYGON_AREA

__all__ = [
    "MAX_LABELS",
    "MAX_POLYGON_POINTS",
    "MAX_RECORD_BYTES",
    "MAX_SCHEDULE_WINDOWS",
    "MAX_TEXT",
    "MIN_POLYGON_AREA",
    "SENSOR_ID",
    "check_record_size",
    "check_sensor",
]

SENSOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Sensor ids, matched whole: the camera id pattern (no separators, spaces or control/bidi
characters, so an id is safe in a file name, a URL path, a log line and a terminal)."""

# Size caps: every record is validated on every worker that reads the sensors topic, so what
# one writer may send is bounded (DESIGN.md: every input has a size cap). The polygon point
# cap lives with the geometry checks (shapes.py).
MAX_LABELS = 64
"""Entries of a label filter."""
MAX_TEXT = 256
"""Characters of a label, a name or a timezone."""
MAX_SCHEDULE_WINDOWS = 48
"""Daily windows of a schedule (one per half hour)."""
MAX_RECORD_BYTES = 64 * 1024
"""Bytes of one sensors-topic record value, checked before it is decoded: a 256-point polygon
is about 4 KiB, so this is room for any valid definition and a bound on decoding cost."""

ID_RULE = (
    "is not a valid id: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
)


def check_record_size(sensor_id: str | None, size: int) -> None:
    """Refuse a sensors-topic record value over :data:`MAX_RECORD_BYTES` (before decoding it)."""
    if size > MAX_RECORD_BYTES:
        raise SensorConfigError(
            sensor_id, "record", f"{size} bytes is over the cap of {MAX_RECORD_BYTES} bytes"
        )


def check_sensor(cfg: SensorConfig) -> None:
    """Raise :class:`SensorConfigError` naming the sensor and field when ``cfg`` is invalid."""

    def fail(field: str, reason: str) -> SensorConfigError:
        return SensorConfigError(cfg.sensor_id or None, field, reason)

    if not SENSOR_ID.fullmatch(cfg.sensor_id):
        raise SensorConfigError(None, "id", f"{cfg.sensor_id!r} {ID_RULE}")
    if not SENSOR_ID.fullmatch(cfg.camera_id):
        raise fail("camera", f"{cfg.camera_id!r} {ID_RULE}")
    spec = kind_spec(cfg.kind)
    if spec is None:
        allowed = ", ".join(k.kind.value for k in KINDS)
        raise fail("kind", f"unknown kind {cfg.kind.value!r}; allowed: {allowed}")
    _check_text(cfg, fail)
    spec.check(cfg, fail)
    for field, default in KIND_FIELDS.items():
        if field not in spec.fields and getattr(cfg, field) != default:
            names = [k.kind.value for k in kinds_taking(field)]
            takers = " and ".join([", ".join(names[:-1]), names[-1]] if names[:-1] else names)
            raise fail(field, f"only {takers} sensors take {field}, not a {cfg.kind.value}")
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


def _check_text(cfg: SensorConfig, fail: Fail) -> None:
    if len(cfg.labels) > MAX_LABELS:
        raise fail("labels", f"{len(cfg.labels)} labels is over the cap of {MAX_LABELS}")
    texts = [("labels", label) for label in cfg.labels]
    texts += [("name", cfg.name or ""), ("timezone", cfg.timezone or "")]
    if cfg.schedule is not None:
        texts.append(("schedule.timezone", cfg.schedule.timezone))
        if len(cfg.schedule.hours) > MAX_SCHEDULE_WINDOWS:
            raise fail("schedule.hours", f"over the cap of {MAX_SCHEDULE_WINDOWS} windows")
    for field, text in texts:
        if len(text) > MAX_TEXT:
            raise fail(field, f"{len(text)} characters is over the cap of {MAX_TEXT}")
        if not text.isprintable():
            raise fail(field, f"{text!r} holds control or formatting characters")


def _check_filters(cfg: SensorConfig, fail: Fail) -> None:
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


def _check_schedule(cfg: SensorConfig, fail: Fail) -> None:
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


def _check_timezone(name: str, field: str, fail: Fail) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise fail(field, f"unknown IANA timezone {name!r}") from exc
