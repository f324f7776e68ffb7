"""Cameras YAML files: validation with file/line/key errors, and CameraConfig records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from producers.config import from_record, load_cameras, load_cameras_text, to_record
from producers.errors import CameraFileError, SourceError
from producers.sources.factory import parse_source
from schemas.records import CameraConfig, DetectorKind, DetectorSpec
from vidsight.errors import ConfigError

GOOD = """
cameras:
  - id: gate-1
    name: Main gate
    source: rtsp://10.0.0.5/stream1
    fps: 5
    detector: {kind: motion, min_area: 0.002}
  - id: yard
    url: file:///videos/yard.mp4?loop=true
    detector: {kind: onnx, model: /models/yolo11n.onnx, labels: [person, car], conf: 0.4}
    enabled: false
  - id: sim-0
    source: synthetic:crossing?seed=3&duration=30
    fps: 2
    detector: {kind: ground_truth}
sensors:
  - id: gate-1-line
    camera: gate-1
    kind: tripwire
    points: [[0.5, 0.0], [0.5, 1.0]]
"""


def test_the_design_shape_loads() -> None:
    cams = load_cameras_text(GOOD)
    assert [c.camera_id for c in cams] == ["gate-1", "yard", "sim-0"]
    gate, yard, sim = cams
    assert gate.name == "Main gate" and gate.fps == 5 and gate.detector_kind == "motion"
    assert dict(gate.detector_options) == {"min_area": 0.002}
    assert yard.name == "yard" and not yard.enabled and yard.source.startswith("file://")
    assert sim.detector_kind == "ground_truth"


def test_records_round_trip_including_kinds_the_enum_lacks() -> None:
    for cam in load_cameras_text(GOOD):
        record = to_record(cam, updated_ts=123)
        assert isinstance(record, CameraConfig)
        assert CameraConfig.from_avro(record.to_avro()) == record
        assert from_record(record) == cam
    sim = to_record(load_cameras_text(GOOD)[2], 1)
    assert sim.detector.kind == DetectorKind.GROUND_TRUTH
    assert "plugin" not in sim.detector.options
    yard = to_record(load_cameras_text(GOOD)[1], 1)
    assert yard.detector.options["labels"] == ("person", "car")
    # A plugin the enum has no symbol for travels as unknown + its name.
    other = replace(load_cameras_text(GOOD)[0], detector_kind="thermal")
    record = to_record(other, 1)
    assert record.detector.kind == DetectorKind.UNKNOWN
    assert record.detector.options["plugin"] == "thermal"
    assert from_record(record) == other


def test_ground_truth_cameras_published_before_the_symbol_still_read_as_ground_truth() -> None:
    sim = load_cameras_text(GOOD)[2]
    old = to_record(sim, 1)
    old = replace(
        old,
        detector=DetectorSpec(
            kind=DetectorKind.UNKNOWN, options=MappingProxyType({"plugin": "ground_truth"})
        ),
    )
    assert from_record(CameraConfig.from_avro(old.to_avro())) == sim


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cameras:\n  - id: a\n    source: rtsp://x\n    fps: 0\n", r"line 4: cameras\.\[0\]\.fps"),
        ("cameras:\n  - id: 'bad id'\n    source: rtsp://x\n", r"line 2: cameras\.\[0\]\.id"),
        ('cameras:\n  - id: "cam1\\n"\n    source: rtsp://x\n', r"line 2: cameras\.\[0\]\.id"),
        ("cameras:\n  - id: ../../etc/passwd\n    source: rtsp://x\n", r"cameras\.\[0\]\.id"),
        ("cameras:\n  - id: a\n", "exactly one of source or url"),
        ("cameras:\n  - id: a\n    source: ftp://x\n", "unsupported source"),
        ("cameras:\n  - id: a\n    source: rtsp://x\n    colour: red\n", "colour"),
        (
            "cameras:\n  - id: a\n    source: rtsp://x\n"
            "    detector: {kind: motion, min_aera: 1}\n",
            r"allowed options: .*min_area",
        ),
        (
            "cameras:\n  - id: a\n    source: rtsp://x\n    detector: {kind: yolo}\n",
            "known: motion",
        ),
        ("cameras:\n  - {id: a, source: rtsp://x}\n  - {id: a, source: rtsp://y}\n", "twice"),
        ("cameras: [\n", "not valid YAML"),
        ("- 1\n", "expected a mapping"),
        ("cameras:\n  - id: a\n    source: synthetic:crossing?seed=x\n", "seed"),
    ],
)
def test_errors_name_the_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(CameraFileError, match=expected) as info:
        load_cameras_text(text, "cams.yaml")
    assert isinstance(info.value, ConfigError)
    assert "cams.yaml" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CameraFileError, match="cannot read"):
        load_cameras(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_cameras(tmp_path / "empty.yaml") == []


def test_source_urls() -> None:
    assert parse_source("rtsp://cam/s1").kind == "rtsp"
    assert parse_source("https://cam/snap.jpg").kind == "http"
    f = parse_source("file:///v/a%20b.mp4?loop=1&realtime=true&start=5").file
    assert f is not None and str(f.path) == "/v/a b.mp4" and f.loop and f.realtime
    assert f.start_us == 5
    plain = parse_source("/v/a.mkv").file
    assert plain is not None and not plain.loop
    syn = parse_source("synthetic:crossing?seed=4&labels=person,car&fps=10&duration=5").synthetic
    assert syn is not None and syn.scene.seed == 4 and syn.scene.labels == ("person", "car")
    assert syn.fps == 10 and syn.duration_s == 5
    assert parse_source("synthetic:").synthetic is not None
    for bad, msg in [
        ("file:///a.mp4?lop=1", "unknown option"),
        ("file:///a.mp4?loop=maybe", "true or false"),
        ("synthetic:city", "unknown scene"),
        ("synthetic:crossing?labels=unicorn", "labels"),
        ("synthetic:crossing?width=4", "width"),
        ("", "empty"),
    ]:
        with pytest.raises(SourceError, match=msg):
            parse_source(bad)
