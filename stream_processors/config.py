"""Sensor definitions from the YAML users write (DESIGN.md) to validated SensorConfig records.

Every error names the file and line, the sensor id and the field, what was wrong and what is
allowed, e.g. ``sites.yaml:14: sensor 'gate-1-line': points: a tripwire needs exactly 2
points, got 3``. Only the ``sensors`` list is read; ``cameras`` is used to check that each
sensor names a defined camera.

Schedules accept the friendly forms::

    schedule:
      days: [mon, tue, wed, thu, fri]     # or ISO numbers 1..7; omitted = every day
      hours: ["08:00-18:00", "22:00-06:00"]   # or {start: "08:00", end: "18:00"}; wraps midnight
      timezone: Europe/Paris              # IANA name; default UTC
"""

from __future__ import annotations

import enum
import math
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from schemas.records import (
    Point,
    Schedule,
    SensorConfig,
    SensorKind,
    Severity,
    TimeWindow,
)
from stream_processors.errors import SensorConfigError
from stream_processors.rules.kinds import KIND_FIELDS, KINDS
from stream_processors.rules.validate import MAX_POLYGON_POINTS, check_sensor

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Bytes of a sensors file: hundreds of sensors at the point cap, and a bound on parse time."""

COMMON_FIELDS = (
    "id", "camera", "kind", "name", "points", "labels", "min_score", "min_area", "max_area",
    "min_ratio", "max_ratio", "schedule", "severity", "group_gap_s", "inertia_frames", "enabled",
    "score_threshold", "timezone",
)  # fmt: skip
"""Keys every sensor kind takes."""
FIELDS = COMMON_FIELDS + tuple(KIND_FIELDS)
"""Keys a sensor entry may have: the common ones, then each kind's own (see rules/kinds.py);
a key of another kind than the entry's is refused by validation, naming the kinds taking it."""

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS = {name: i + 1 for i, full in enumerate(_DAY_NAMES) for name in (full, full[:3])}
_SCHEDULE_FIELDS = ("days", "hours", "timezone")


class _FieldError(Exception):
    """A field error inside one sensor entry, before the sensor id is known to be valid."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def load_sensors(path: str | Path, *, updated_ts: int) -> tuple[SensorConfig, ...]:
    """Read and validate the sensors of a YAML file; ``updated_ts`` stamps every record."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SensorConfigError(
            None, "file", f"cannot read: {exc.strerror}", source=str(p)
        ) from exc
    return parse_sensors_yaml(text, updated_ts=updated_ts, source=str(p))


def parse_sensors_yaml(
    text: str, *, updated_ts: int, source: str = "<yaml>"
) -> tuple[SensorConfig, ...]:
    """Validate the sensors of a YAML document given as text."""
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise SensorConfigError(
            None, "file", f"{size} bytes is over the cap of {MAX_FILE_BYTES}", source=source
        )
    try:
        # One parse with libyaml: the node tree gives the lines, the same tree the values.
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            document = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
        lines = _line_index(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise SensorConfigError(
            None, "yaml", f"not valid YAML: {exc}", source=source, line=line
        ) from exc
    return parse_sensors(document, updated_ts=updated_ts, source=source, lines=lines)


def parse_sensors(
    document: object,
    *,
    updated_ts: int,
    source: str = "<config>",
    lines: list[tuple[int, dict[str, int]]] | None = None,
) -> tuple[SensorConfig, ...]:
    """Validate the ``sensors`` of an already parsed document (a mapping)."""
    if document is None:
        return ()
    if not isinstance(document, Mapping):
        raise SensorConfigError(
            None, "document", "must be a mapping with a sensors list", source=source
        )
    raw = document.get("sensors") or []
    if not isinstance(raw, list):
        raise SensorConfigError(None, "sensors", "must be a list of sensor entries", source=source)
    cameras = _camera_ids(document.get("cameras"), source)
    seen: dict[str, int] = {}
    result = []
    for i, item in enumerate(raw):
        item_line, field_lines = lines[i] if lines and i < len(lines) else (None, {})
        sensor_id = item.get("id") if isinstance(item, Mapping) else None
        name = sensor_id if isinstance(sensor_id, str) and sensor_id else f"#{i + 1}"

        def where(
            field: str, *, _fl: dict[str, int] = field_lines, _il: int | None = item_line
        ) -> int | None:
            return _fl.get(field.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0], _il)

        try:
            cfg = _sensor(item, updated_ts, cameras)
            check_sensor(cfg)
        except _FieldError as exc:
            raise SensorConfigError(
                name, exc.field, exc.reason, source=source, line=where(exc.field)
            ) from exc
        except SensorConfigError as exc:
            raise SensorConfigError(
                name, exc.field, exc.reason, source=source, line=where(exc.field)
            ) from exc
        if cfg.sensor_id in seen:
            reason = f"duplicate sensor id (entry #{seen[cfg.sensor_id] + 1} has it too)"
            raise SensorConfigError(name, "id", reason, source=source, line=where("id"))
        seen[cfg.sensor_id] = i
        result.append(cfg)
    return tuple(result)


def _camera_ids(raw: object, source: str) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise SensorConfigError(None, "cameras", "must be a list of camera entries", source=source)
    return frozenset(
        c["id"] for c in raw if isinstance(c, Mapping) and isinstance(c.get("id"), str)
    )


def _sensor(item: object, updated_ts: int, cameras: frozenset[str] | None) -> SensorConfig:
    if not isinstance(item, Mapping):
        raise _FieldError("sensor", f"each sensor entry must be a mapping, got {_kind(item)}")
    unknown = sorted(str(k) for k in item if k not in FIELDS)
    if unknown:
        raise _FieldError(unknown[0], f"unknown key; allowed: {', '.join(FIELDS)}")
    for required in ("id", "camera", "kind", "points"):
        if required not in item:
            raise _FieldError(required, "missing (required)")
    camera = _str(item, "camera")
    if cameras is not None and camera not in cameras:
        known = ", ".join(sorted(cameras)) or "none"
        raise _FieldError("camera", f"unknown camera {camera!r}; cameras defined: {known}")
    return SensorConfig(
        sensor_id=_str(item, "id"),
        camera_id=camera,
        name=_opt(item, "name", _str),
        kind=_kind_of(item),
        points=_points(item["points"]),
        labels=_labels(item.get("labels")),
        min_score=_num(item, "min_score", 0.0),
        min_area=_opt(item, "min_area", _num),
        max_area=_opt(item, "max_area", _num),
        min_ratio=_opt(item, "min_ratio", _num),
        max_ratio=_opt(item, "max_ratio", _num),
        schedule=None if item.get("schedule") is None else _schedule(item["schedule"]),
        severity=_enum(item, "severity", Severity, Severity.MEDIUM),
        group_gap_s=_num(item, "group_gap_s", 30.0),
        inertia_frames=_int(item, "inertia_frames", 1),
        enabled=_bool(item, "enabled", True),
        updated_ts=updated_ts,
        score_threshold=_opt(item, "score_threshold", _num),
        timezone=_opt(item, "timezone", _str),
        **{name: _kind_field(item, name) for name in KIND_FIELDS if name in item},
    )


def _kind_of(item: Mapping[str, Any]) -> SensorKind:
    value = item.get("kind")
    allowed = [k.kind.value for k in KINDS]
    if not isinstance(value, str) or value not in allowed:
        raise _FieldError("kind", f"got {value!r}; allowed: {', '.join(allowed)}")
    return SensorKind(value)


def _field_reader(name: str) -> Callable[[Mapping[str, Any], str], Any]:
    """The reader of a kind-specific field, from its SensorConfig type (null = its default)."""
    hint = typing.get_type_hints(SensorConfig)[name]
    base = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
    if isinstance(base, type) and issubclass(base, enum.StrEnum):
        return lambda item, key: _enum(item, key, base)
    readers: dict[Any, Callable[[Mapping[str, Any], str], Any]] = {
        float: _num, int: _int, str: _str, bool: lambda item, key: _bool(item, key, False),
    }  # fmt: skip
    return readers[base]


def _kind_field(item: Mapping[str, Any], name: str) -> Any:
    if item[name] is None:
        return KIND_FIELDS[name]
    return _KIND_READERS[name](item, name)


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _opt(item: Mapping[str, Any], key: str, read: Any) -> Any:
    return None if item.get(key) is None else read(item, key)


def _str(item: Mapping[str, Any], key: str) -> str:
    value = item[key]
    if not isinstance(value, str) or not value:
        raise _FieldError(key, f"must be a non-empty string, got {value!r}")
    return value


def _num(item: Mapping[str, Any], key: str, default: float | None = None) -> float:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _FieldError(key, f"must be a number, got {value!r}")
    return float(value)


def _int(item: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(key, f"must be a whole number, got {value!r}")
    return value


def _bool(item: Mapping[str, Any], key: str, default: bool) -> bool:
    value = item.get(key, default)
    if not isinstance(value, bool):
        raise _FieldError(key, f"must be true or false, got {value!r}")
    return value


def _enum(item: Mapping[str, Any], key: str, enum: Any, default: Any = None) -> Any:
    value = item.get(key, default)
    allowed = [m.value for m in enum if m.value != "unknown"]
    if not isinstance(value, str) or value not in allowed:
        raise _FieldError(key, f"got {value!r}; allowed: {', '.join(allowed)}")
    return enum(value)


def _points(value: object) -> tuple[Point, ...]:
    if not isinstance(value, list):
        raise _FieldError("points", f"must be a list of [x, y] pairs, got {_kind(value)}")
    if len(value) > MAX_POLYGON_POINTS:
        raise _FieldError("points", f"{len(value)} points is over the cap of {MAX_POLYGON_POINTS}")
    points = []
    for i, p in enumerate(value):
        if (
            not isinstance(p, list | tuple)
            or len(p) != 2
            or any(isinstance(c, bool) or not isinstance(c, int | float) for c in p)
        ):
            raise _FieldError("points", f"point {i} must be an [x, y] pair of numbers, got {p!r}")
        points.append(Point(float(p[0]), float(p[1])))
    return tuple(points)


def _labels(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _FieldError("labels", f"must be a list of label names, got {value!r}")
    return tuple(value)


def _schedule(value: object) -> Schedule:
    if not isinstance(value, Mapping):
        raise _FieldError(
            "schedule", f"must be a mapping with days/hours/timezone, got {_kind(value)}"
        )
    unknown = sorted(str(k) for k in value if k not in _SCHEDULE_FIELDS)
    if unknown:
        raise _FieldError(
            f"schedule.{unknown[0]}", f"unknown key; allowed: {', '.join(_SCHEDULE_FIELDS)}"
        )
    days = value.get("days") or []
    hours = value.get("hours") or []
    timezone = value.get("timezone", "UTC")
    if not isinstance(days, list):
        raise _FieldError("schedule.days", f"must be a list of weekdays, got {days!r}")
    if not isinstance(hours, list):
        raise _FieldError(
            "schedule.hours", f"must be a list of windows like '08:00-18:00', got {hours!r}"
        )
    if not isinstance(timezone, str):
        raise _FieldError("schedule.timezone", f"must be an IANA timezone name, got {timezone!r}")
    return Schedule(
        days=tuple(_day(d) for d in days),
        hours=tuple(_window(i, w) for i, w in enumerate(hours)),
        timezone=timezone,
    )


def _day(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
        return value
    if isinstance(value, str) and value.lower() in _DAYS:
        return _DAYS[value.lower()]
    raise _FieldError("schedule.days", f"got {value!r}; allowed: 1..7 (Monday = 1) or mon..sun")


def _window(i: int, value: object) -> TimeWindow:
    field = f"schedule.hours[{i}]"
    if isinstance(value, str) and value.count("-") == 1:
        start, end = value.split("-")
    elif isinstance(value, Mapping) and set(value) == {"start", "end"}:
        start, end = value["start"], value["end"]
    else:
        raise _FieldError(
            field, f"got {value!r}; write 'HH:MM-HH:MM' or {{start: 'HH:MM', end: 'HH:MM'}}"
        )
    return TimeWindow(_minute(field, start, 1439), _minute(field, end, 1440))


def _minute(field: str, value: object, highest: int) -> int:
    # YAML 1.1 reads an unquoted 18:00 as the base-60 integer 1080, which is exactly the
    # minute of the day, so whole numbers are taken as minutes after midnight.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= highest:
        return value
    text = str(value).strip()
    hh, sep, mm = text.partition(":")
    if sep and hh.isdigit() and mm.isdigit() and len(mm) == 2 and int(mm) < 60:
        minute = int(hh) * 60 + int(mm)
        if minute <= highest:
            return minute
    raise _FieldError(
        field, f"time {text!r} must be HH:MM within 00:00..{highest // 60:02d}:{highest % 60:02d}"
    )


_KIND_READERS = {name: _field_reader(name) for name in KIND_FIELDS}


def _line_index(root: yaml.Node | None) -> list[tuple[int, dict[str, int]]]:
    """Per sensor entry: its line and the line of each of its keys (1-based)."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "sensors":
            if not isinstance(value, yaml.SequenceNode):
                return []
            index = []
            for entry in value.value:
                fields: dict[str, int] = {}
                if isinstance(entry, yaml.MappingNode):
                    for k, _ in entry.value:
                        if isinstance(k, yaml.ScalarNode):
                            fields[str(k.value)] = k.start_mark.line + 1
                index.append((entry.start_mark.line + 1, fields))
            return index
    return []
