"""YAML definitions of speed sensors: what they take, and errors naming file, line and field."""

from __future__ import annotations

import pytest

from schemas.records import DirectionFilter, SensorKind
from stream_processors.config import FIELDS, parse_sensors_yaml
from stream_processors.errors import SensorConfigError

HEAD = "cameras:\n  - id: road\nsensors:\n  - id: s1\n    camera: road\n"  # s1 is line 4
LINES = "    points: [[0.3, 0.0], [0.3, 1.0], [0.7, 0.0], [0.7, 1.0]]\n"


def error(body: str) -> str:
    with pytest.raises(SensorConfigError) as info:
        parse_sensors_yaml(HEAD + body, updated_ts=1, source="road.yaml")
    return str(info.value)


def test_a_speed_sensor_reads_its_own_fields() -> None:
    body = (
        "    kind: speed\n" + LINES + "    distance_m: 20\n    speed_kmh_threshold: 50.5\n"
        "    max_seconds: 8\n    direction: a_to_b\n    labels: [car]\n    min_score: 0.4\n"
    )
    (cfg,) = parse_sensors_yaml(HEAD + body, updated_ts=1, source="road.yaml")
    assert cfg.kind is SensorKind.SPEED and cfg.direction is DirectionFilter.A_TO_B
    assert (cfg.distance_m, cfg.speed_kmh_threshold, cfg.max_seconds) == (20.0, 50.5, 8.0)
    assert (cfg.labels, cfg.min_score, len(cfg.points)) == (("car",), 0.4, 4)


def test_threshold_and_max_seconds_are_optional() -> None:
    body = "    kind: speed\n" + LINES + "    distance_m: 12.5\n    speed_kmh_threshold: null\n"
    (cfg,) = parse_sensors_yaml(HEAD + body, updated_ts=1)
    assert (cfg.speed_kmh_threshold, cfg.max_seconds, cfg.direction) == (
        None,
        None,
        DirectionFilter.BOTH,
    )


def test_the_key_list_holds_each_kind_s_own_keys() -> None:
    assert {"distance_m", "speed_kmh_threshold", "max_seconds", "seconds"} <= set(FIELDS)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    kind: speed\n" + LINES,
            "road.yaml:4: sensor 's1': distance_m: a speed sensor needs distance_m",
        ),
        (
            "    kind: speed\n" + LINES + "    distance_m: -3\n",
            "road.yaml:8: sensor 's1': distance_m: must be a positive number of metres, got -3.0",
        ),
        (
            "    kind: speed\n" + LINES + "    distance_m: 20\n    speed_kmh_threshold: fast\n",
            "road.yaml:9: sensor 's1': speed_kmh_threshold: must be a number, got 'fast'",
        ),
        (
            "    kind: speed\n" + LINES + "    distance_m: 20\n    speed_kmh_threshold: 0\n",
            "road.yaml:9: sensor 's1': speed_kmh_threshold: must be a positive number of km/h",
        ),
        (
            "    kind: speed\n" + LINES + "    distance_m: 20\n    max_seconds: 0\n",
            "road.yaml:9: sensor 's1': max_seconds: must be a positive number of seconds",
        ),
        (
            "    kind: speed\n    distance_m: 20\n"
            "    points: [[0.3, 0.0], [0.3, 1.0], [0.7, 0.0]]\n",
            "road.yaml:8: sensor 's1': points: a speed sensor (line 1 P0 P1, then line 2 P0 P1) "
            "needs exactly 4 points, got 3",
        ),
        (
            "    kind: speed\n    distance_m: 20\n"
            "    points: [[0.3, 0.0], [0.7, 1.0], [0.7, 0.0], [0.3, 1.0]]\n",
            "road.yaml:8: sensor 's1': points: line 1 and line 2 meet",
        ),
        (
            "    kind: speed\n    distance_m: 20\n"
            "    points: [[0.3, 0.0], [0.3, 1.0], [0.7, 0.5], [0.7, 0.5]]\n",
            "road.yaml:8: sensor 's1': points: the points of line 2 are the same point",
        ),
        (
            "    kind: speed\n" + LINES + "    distance_m: 20\n    direction: sideways\n",
            "road.yaml:9: sensor 's1': direction: got 'sideways'; allowed: both, a_to_b, b_to_a",
        ),
        (
            "    kind: speed\n" + LINES + "    distance_m: 20\n    seconds: 5\n",
            "road.yaml:9: sensor 's1': seconds: only loitering and video_loss sensors take "
            "seconds, not a speed",
        ),
        (
            "    kind: zone\n    points: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]\n"
            "    distance_m: 20\n",
            "road.yaml:8: sensor 's1': distance_m: only speed sensors take distance_m, not a zone",
        ),
        (
            "    kind: tripwire\n    points: [[0.5, 0.0], [0.5, 1.0]]\n"
            "    speed_kmh_threshold: 30\n",
            "road.yaml:8: sensor 's1': speed_kmh_threshold: only speed sensors take "
            "speed_kmh_threshold, not a tripwire",
        ),
        (
            "    kind: radar\n" + LINES,
            "road.yaml:6: sensor 's1': kind: got 'radar'; allowed: zone, tripwire, loitering, "
            "aoi, speed",
        ),
    ],
)
def test_errors_name_file_line_sensor_and_field(body: str, expected: str) -> None:
    assert error(body).startswith(expected)
