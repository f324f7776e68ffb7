"""YAML sensor definitions: the DESIGN.md shape parses, and every error names file, line,
sensor and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.records import DirectionFilter, Point, SensorConfig, SensorKind, Severity, TimeWindow
from stream_processors.config import load_sensors, parse_sensors, parse_sensors_yaml
from stream_processors.errors import SensorConfigError
from vidsight.errors import ConfigError, VidsightError

DESIGN_EXAMPLE = """\
cameras:
  - id: gate-1
    name: Main gate
    source: rtsp://10.0.0.5/stream1      # or file:///videos/gate.mp4, or synthetic:<scene>
    fps: 5                               # analysis frames per second
    detector: {kind: motion, min_area: 0.002}   # or {kind: onnx, model: /models/yolo11n.onnx}
sensors:
  - id: gate-1-line
    camera: gate-1
    kind: tripwire
    points: [[0.5, 0.0], [0.5, 1.0]]     # normalised x right, y down; see direction below
    direction: both
    labels: [person, car]                # omitted = all labels
  - id: gate-1-yard
    camera: gate-1
    kind: zone
    points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
  - id: gate-1-loiter
    camera: gate-1
    kind: loitering
    points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
    seconds: 30
"""


def parse(text: str) -> list[SensorConfig]:
    return list(parse_sensors_yaml(text, updated_ts=42, source="site.yaml"))


def one(body: str, camera: str = "gate-1") -> str:
    """A document with one sensor entry whose keys are ``body`` (indented by the caller)."""
    return f"cameras:\n  - id: {camera}\nsensors:\n  - id: s1\n    camera: {camera}\n{body}"


def error(text: str) -> str:
    with pytest.raises(SensorConfigError) as info:
        parse(text)
    return str(info.value)


def test_design_example_parses() -> None:
    line, yard, loiter = parse(DESIGN_EXAMPLE)
    assert (line.sensor_id, line.camera_id, line.kind) == (
        "gate-1-line",
        "gate-1",
        SensorKind.TRIPWIRE,
    )
    assert line.points == (Point(0.5, 0.0), Point(0.5, 1.0))
    assert line.direction is DirectionFilter.BOTH and line.labels == ("person", "car")
    assert yard.kind is SensorKind.ZONE and yard.labels == () and yard.seconds is None
    assert loiter.kind is SensorKind.LOITERING and loiter.seconds == 30.0
    assert {s.updated_ts for s in (line, yard, loiter)} == {42}


def test_defaults() -> None:
    (s,) = parse(one("    kind: zone\n    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n"))
    assert (s.min_score, s.severity, s.group_gap_s, s.inertia_frames, s.enabled) == (
        0.0,
        Severity.MEDIUM,
        30.0,
        1,
        True,
    )
    assert s.schedule is None and s.occupancy_threshold is None and s.name is None


def test_every_field() -> None:
    text = one(
        "    kind: zone\n    name: Yard\n    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n"
        "    labels: [car]\n    min_score: 0.4\n    min_area: 0.01\n    max_area: 0.5\n"
        "    min_ratio: 0.2\n    max_ratio: 5\n    severity: critical\n    group_gap_s: 12.5\n"
        "    inertia_frames: 3\n    occupancy_threshold: 4\n    enabled: false\n"
        "    schedule:\n      days: [mon, Friday, 7]\n"
        "      hours: ['08:00-18:00', {start: '22:00', end: '06:00'}]\n"
        "      timezone: Europe/Paris\n"
    )
    (s,) = parse(text)
    assert s.name == "Yard" and s.labels == ("car",) and s.min_score == 0.4
    assert (s.min_area, s.max_area, s.min_ratio, s.max_ratio) == (0.01, 0.5, 0.2, 5.0)
    assert (s.severity, s.group_gap_s, s.inertia_frames, s.occupancy_threshold, s.enabled) == (
        Severity.CRITICAL,
        12.5,
        3,
        4,
        False,
    )
    assert s.schedule is not None
    assert s.schedule.days == (1, 5, 7)
    assert s.schedule.hours == (TimeWindow(480, 1080), TimeWindow(1320, 360))
    assert s.schedule.timezone == "Europe/Paris"


def test_unquoted_times_read_as_base_60_still_mean_minutes() -> None:
    text = one(
        "    kind: zone\n    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n"
        "    schedule:\n      hours: [{start: 18:00, end: 24:00}]\n"
    )
    (s,) = parse(text)
    assert s.schedule is not None and s.schedule.hours == (TimeWindow(1080, 1440),)


def test_tripwire_with_three_points_names_file_line_sensor_and_field() -> None:
    text = one("    kind: tripwire\n    points: [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]\n")
    assert (
        error(text) == "site.yaml:7: sensor 's1': points: a tripwire needs exactly 2 points, got 3"
    )


def zone_with(extra: str) -> str:
    """Keys of a valid triangle zone plus ``extra``."""
    return "    kind: zone\n" + TRIANGLE + extra


TRIANGLE = "    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n"
BAD_ENTRIES = [
    (
        "    kind: zone\n    points: [[0.1, 0.1], [0.9, 0.1]]\n",
        "points: a zone polygon needs at least 3 points, got 2",
    ),
    (
        "    kind: zone\n    points: [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]\n",
        "points: the polygon crosses itself",
    ),
    (
        "    kind: zone\n    points: [[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]\n",
        "points: the polygon has (almost) no area",
    ),
    (
        "    kind: zone\n    points: [[0.1, 0.1], [1.5, 0.1], [0.5, 0.9]]\n",
        "points: point 1 (1.5, 0.1) is outside",
    ),
    (
        "    kind: zone\n    points: [[0.1, 0.1], [0.1, 0.1], [0.5, 0.9]]\n",
        "points: points 0 and 1 are the same point",
    ),
    (
        "    kind: tripwire\n    points: [[0.1, 0.1], [0.1, 0.1]]\n",
        "points: the two tripwire points are the same",
    ),
    (
        "    kind: zone\n    points: [[0.1], [0.9, 0.1], [0.5, 0.9]]\n",
        "points: point 0 must be an [x, y] pair",
    ),
    ("    kind: zone\n    points: 3\n", "points: must be a list of [x, y] pairs, got int"),
    (
        "    kind: circle\n    points: []\n",
        "kind: got 'circle'; allowed: zone, tripwire, loitering, aoi",
    ),
    (
        "    kind: loitering\n    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n",
        "seconds: a loitering sensor needs seconds",
    ),
    (
        "    kind: loitering\n    seconds: -1\n    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n",
        "seconds: must be a positive number",
    ),
    (zone_with("    seconds: 5\n"), "seconds: only loitering and video_loss sensors take seconds"),
    (
        zone_with("    direction: a_to_b\n"),
        "direction: only tripwire and speed sensors take direction, not a zone",
    ),
    (
        "    kind: tripwire\n    direction: up\n    points: [[0.1, 0.1], [0.9, 0.1]]\n",
        "direction: got 'up'; allowed: both, a_to_b, b_to_a",
    ),
    (
        "    kind: tripwire\n    occupancy_threshold: 2\n    points: [[0.1, 0.1], [0.9, 0.1]]\n",
        "occupancy_threshold: only zone sensors take occupancy_threshold, not a tripwire",
    ),
    (zone_with("    occupancy_threshold: 0\n"), "occupancy_threshold: must be at least 1"),
    (zone_with("    min_score: 2\n"), "min_score: must be within 0..1, got 2.0"),
    (zone_with("    min_score: high\n"), "min_score: must be a number, got 'high'"),
    (zone_with("    min_score: true\n"), "min_score: must be a number, got True"),
    (zone_with("    min_area: 0.5\n    max_area: 0.1\n"), "min_area: 0.5 is above max_area 0.1"),
    (zone_with("    max_area: 0\n"), "max_area: must be a fraction of the frame"),
    (zone_with("    min_ratio: 3\n    max_ratio: 1\n"), "min_ratio: 3.0 is above max_ratio 1.0"),
    (zone_with("    min_ratio: -1\n"), "min_ratio: must be a positive width/height ratio"),
    (zone_with("    severity: meh\n"), "severity: got 'meh'; allowed: low, medium, high, critical"),
    (zone_with("    group_gap_s: 0\n"), "group_gap_s: must be a positive number of seconds"),
    (zone_with("    inertia_frames: 0\n"), "inertia_frames: must be at least 1"),
    (zone_with("    inertia_frames: 1.5\n"), "inertia_frames: must be a whole number"),
    (zone_with("    enabled: 1\n"), "enabled: must be true or false"),
    (zone_with("    labels: person\n"), "labels: must be a list of label names"),
    (zone_with("    labels: ['']\n"), "labels: must be a list of label names"),
    (zone_with("    colour: red\n"), "colour: unknown key; allowed: id, camera, kind"),
    ("    kind: zone\n", "points: missing (required)"),
    (zone_with("    schedule: weekdays\n"), "schedule: must be a mapping"),
    (zone_with("    schedule: {days: [funday]}\n"), "schedule.days: got 'funday'; allowed: 1..7"),
    (zone_with("    schedule: {days: [8]}\n"), "schedule.days: got 8"),
    (zone_with("    schedule: {hours: ['8-18']}\n"), "schedule.hours[0]: time '8' must be HH:MM"),
    (
        zone_with("    schedule: {hours: ['08:00-25:00']}\n"),
        "schedule.hours[0]: time '25:00' must be HH:MM within 00:00..24:00",
    ),
    (
        zone_with("    schedule: {hours: ['08:00-08:00']}\n"),
        "schedule.hours[0]: start and end are the same minute",
    ),
    (zone_with("    schedule: {hours: [8]}\n"), "schedule.hours[0]: got 8; write 'HH:MM-HH:MM'"),
    (
        zone_with("    schedule: {timezone: Mars/Olympus}\n"),
        "schedule.timezone: unknown IANA timezone 'Mars/Olympus'",
    ),
    (
        zone_with("    schedule: {tz: UTC}\n"),
        "schedule.tz: unknown key; allowed: days, hours, timezone",
    ),
]


@pytest.mark.parametrize(("body", "expected"), BAD_ENTRIES)
def test_errors_name_the_sensor_and_field(body: str, expected: str) -> None:
    message = error(one(body))
    assert message.startswith("site.yaml:")
    assert "sensor 's1': " + expected in message


def test_error_line_points_at_the_field() -> None:
    text = one(
        "    kind: zone\n    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n    min_score: 7\n"
    )
    assert error(text).startswith("site.yaml:8: ")


def test_unknown_camera() -> None:
    text = one("    kind: zone\n    points: []\n").replace("camera: gate-1", "camera: gate-2")
    assert (
        error(text)
        == "site.yaml:5: sensor 's1': camera: unknown camera 'gate-2'; cameras defined: gate-1"
    )


def test_camera_is_not_checked_without_a_cameras_list() -> None:
    text = "sensors:\n  - id: s1\n    camera: anywhere\n    kind: tripwire\n"
    text += "    points: [[0, 0], [1, 1]]\n"
    assert parse(text)[0].camera_id == "anywhere"


def test_duplicate_sensor_ids() -> None:
    entry = "  - id: s1\n    camera: c\n    kind: tripwire\n    points: [[0, 0], [1, 1]]\n"
    text = "sensors:\n" + entry + entry
    assert error(text) == "site.yaml:6: sensor 's1': id: duplicate sensor id (entry #1 has it too)"


def test_entry_without_a_usable_id_is_named_by_position() -> None:
    text = "sensors:\n  - camera: c\n    kind: tripwire\n    points: [[0, 0], [1, 1]]\n"
    assert error(text) == "site.yaml:2: sensor '#1': id: missing (required)"


def test_entry_that_is_not_a_mapping() -> None:
    assert "sensor: each sensor entry must be a mapping, got str" in error(
        "sensors:\n  - just a string\n"
    )


def test_document_shape_errors() -> None:
    assert "sensors: must be a list" in error("sensors: {a: 1}\n")
    assert "document: must be a mapping" in error("- 1\n- 2\n")
    assert "cameras: must be a list" in error("cameras: 3\nsensors: []\n")


def test_invalid_yaml_names_the_line() -> None:
    message = error("sensors:\n  - id: [unclosed\n")
    assert message.startswith("site.yaml:") and "yaml: not valid YAML" in message


def test_empty_documents_have_no_sensors() -> None:
    assert parse("") == []
    assert parse("cameras: []\n") == []


def test_errors_are_config_errors_of_vidsight() -> None:
    with pytest.raises(ConfigError):
        parse(one("    kind: zone\n"))
    assert issubclass(SensorConfigError, VidsightError)


def test_load_sensors_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(DESIGN_EXAMPLE)
    assert [s.sensor_id for s in load_sensors(path, updated_ts=1)] == [
        "gate-1-line",
        "gate-1-yard",
        "gate-1-loiter",
    ]


def test_load_sensors_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SensorConfigError, match="file: cannot read"):
        load_sensors(tmp_path / "nope.yaml", updated_ts=1)


def test_parse_sensors_from_a_mapping() -> None:
    doc = {"sensors": [{"id": "s", "camera": "c", "kind": "tripwire", "points": [[0, 0], [1, 1]]}]}
    (s,) = parse_sensors(doc, updated_ts=5)
    assert s.sensor_id == "s" and s.updated_ts == 5


def test_error_without_source_or_line() -> None:
    assert str(SensorConfigError("x", "points", "bad")) == "sensor 'x': points: bad"
    assert str(SensorConfigError(None, "sensors", "bad", source="f.yaml")) == "f.yaml: sensors: bad"
