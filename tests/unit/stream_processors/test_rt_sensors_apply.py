"""`vidsight sensors apply`: what a file changes on the sensors topic, and file errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from click.testing import CliRunner
from sp_helpers import tripwire, zone

from stream_processors.cli import cli
from stream_processors.runtime.sensors_topic import (
    Action,
    SensorChange,
    file_cameras,
    load_file,
    moves,
    plan,
)

FILE = """\
cameras:
  - id: gate-1
    name: Main gate
    source: synthetic:crossing
    fps: 5
    detector: {kind: motion}
  - id: gate-2
    name: Back gate
    source: synthetic:crossing
    fps: 5
    detector: {kind: motion}
sensors:
  - id: gate-1-line
    camera: gate-1
    kind: tripwire
    points: [[0.5, 0.0], [0.5, 1.0]]
"""


def actions(changes: list[SensorChange]) -> list[tuple[str, str]]:
    return [(c.sensor_id, c.action.value) for c in changes]


def test_new_changed_unchanged_and_removed_sensors() -> None:
    current = {
        "line": tripwire("line", updated_ts=1),
        "zone": zone("zone", updated_ts=1),
        "old": zone("old", updated_ts=1),
        "other": zone("other", camera_id="cam-9", updated_ts=1),
    }
    desired = [
        tripwire("line", updated_ts=2),  # same definition, newer stamp: unchanged
        zone("zone", min_score=0.5, updated_ts=2),
        zone("new", updated_ts=2),
    ]
    changes = plan(current, desired)
    assert actions(changes) == [
        ("line", "unchanged"),
        ("zone", "update"),
        ("new", "create"),
        ("old", "delete"),  # same camera, absent from the file: tombstone
    ]  # cam-9's sensor is another camera's business
    assert changes[-1].config is None and changes[-1].camera_id == "cam-1"
    assert changes[1].config == desired[1]


def test_a_camera_listed_without_sensors_loses_its_sensors() -> None:
    current = {"s": zone("s", camera_id="gate-2", updated_ts=1)}
    assert actions(plan(current, [], cameras=["gate-2"])) == [("s", "delete")]
    assert plan(current, []) == []


def test_a_sensor_moving_to_another_camera_is_a_move() -> None:
    current = {"s": zone("s", camera_id="a", updated_ts=1)}
    changes = plan(current, [dataclasses.replace(current["s"], camera_id="b")])
    assert [c.action for c in changes] == [Action.MOVE]
    assert moves(changes) == changes
    assert changes[0].from_camera == "a"
    assert changes[0].describe() == "move      s  (camera b, from camera a)"
    # Another site's file reusing the id is a move too, even with the same definition.
    other = dataclasses.replace(current["s"], camera_id="other-site-cam", updated_ts=2)
    assert [c.action for c in plan(current, [other])] == [Action.MOVE]


def test_file_cameras_and_sensors(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(FILE)
    sensors, cameras = load_file(path, updated_ts=7)
    assert [s.sensor_id for s in sensors] == ["gate-1-line"] and sensors[0].updated_ts == 7
    assert cameras == {"gate-1", "gate-2"} == file_cameras(path)


def test_cli_rejects_an_invalid_file_with_file_line_sensor_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(FILE.replace("[[0.5, 0.0], [0.5, 1.0]]", "[[0.5, 0.0], [0.5, 1.0], [0, 0]]"))
    result = CliRunner().invoke(cli, ["sensors", "apply", str(path), "--dry-run"])
    assert result.exit_code == 1
    assert f"{path}:16: sensor 'gate-1-line': points: a tripwire needs exactly 2 points" in (
        result.output
    )


def test_cli_rejects_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sensors", "apply", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1 and "nope.yaml" in result.output and "cannot read" in result.output
