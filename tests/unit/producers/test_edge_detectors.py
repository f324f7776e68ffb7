"""Detector plugins: a real ONNX model built here (YOLO output layout), motion blobs, HOG, truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from producers.detectors.factory import DETECTOR_KINDS, build_detector, split_options
from producers.detectors.ground_truth import GroundTruthDetector, GroundTruthOptions
from producers.detectors.hog import HogDetector, HogOptions
from producers.detectors.motion import MotionDetector, MotionOptions
from producers.detectors.onnx import ModelPool, OnnxDetector, OnnxOptions
from producers.errors import DetectorError
from producers.frames import Frame
from producers.motion import MotionConfig, MotionGate, MotionResult
from producers.synthetic.render import background, render
from producers.synthetic.scene import Scene, SceneSpec
from producers.tracking import iou_matrix

# Candidates in model-input pixels for a 1280x720 frame letterboxed into 640x640
# (scale 0.5, 140 px of padding above and below): (cx, cy, w, h, person, car, dog).
CANDIDATES = [
    (100, 340, 100, 200, 0.9, 0.0, 0.0),  # person at (100,200)-(300,600) in the frame
    (103, 338, 100, 200, 0.7, 0.0, 0.0),  # the same person again, suppressed by NMS
    (420, 370, 200, 100, 0.0, 0.8, 0.0),  # car at (640,360)-(1040,560)
    (110, 345, 100, 190, 0.0, 0.6, 0.0),  # a car overlapping the person: another class, kept
    (300, 300, 50, 50, 0.0, 0.0, 0.1),  # a dog below the confidence threshold
] + [(600, 600, 2, 2, 0.0, 0.0, 0.0)] * 11  # empty anchors, so N (16) > 4 + nc (7)

PERSON = (100 / 1280, 200 / 720, 300 / 1280, 600 / 720)
CAR = (640 / 1280, 360 / 720, 1040 / 1280, 560 / 720)


def build_yolo_model(path: Path, *, transposed: bool = False, names: str | None = None) -> Path:
    """A YOLOv8-layout model: fixed candidates whose scores scale with the brightest input pixel.

    The output is [1, 4 + nc, N] (or [1, N, 4 + nc]); scores are multiplied by
    ReduceMax(images), so the input really flows through the graph: a white frame gives the
    scores above, a black one (only the letterbox's grey padding, 114/255) scales them down.
    """
    table = np.array(CANDIDATES, dtype=np.float32).T  # (7, N)
    boxes = helper.make_tensor(
        "boxes", TensorProto.FLOAT, [1, 4, table.shape[1]], table[:4].ravel()
    )
    scores = helper.make_tensor(
        "scores", TensorProto.FLOAT, [1, 3, table.shape[1]], table[4:].ravel()
    )
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, 1])
    nodes = [
        helper.make_node("Constant", [], ["b"], value=boxes),
        helper.make_node("Constant", [], ["s"], value=scores),
        helper.make_node("Constant", [], ["shape"], value=shape),
        helper.make_node("ReduceMax", ["images"], ["m4"], keepdims=1),
        helper.make_node("Reshape", ["m4", "shape"], ["m"]),
        helper.make_node("Mul", ["s", "m"], ["scaled"]),
    ]
    n = table.shape[1]
    if transposed:
        nodes += [
            helper.make_node("Concat", ["b", "scaled"], ["cat"], axis=1),
            helper.make_node("Transpose", ["cat"], ["output0"], perm=[0, 2, 1]),
        ]
        out_shape = [1, n, 7]
    else:
        nodes.append(helper.make_node("Concat", ["b", "scaled"], ["output0"], axis=1))
        out_shape = [1, 7, n]
    graph = helper.make_graph(
        nodes,
        "yolo-test",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": names or "{0: 'person', 1: 'car', 2: 'dog'}"})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def frame_of(value: int, width: int = 1280, height: int = 720) -> Frame:
    img = np.full((height, width, 3), value, dtype=np.uint8)
    return Frame(ts_us=0, pts_s=0.0, width=width, height=height, bgr=img)


NO_MOTION = MotionResult(0.0, False, np.zeros((2, 2), dtype=bool))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_yolo_model(tmp_path_factory.mktemp("onnx") / "yolo-test.onnx")


def test_onnx_boxes_labels_and_scores_come_out_right(model: Path) -> None:
    det = OnnxDetector(OnnxOptions(model=model), ModelPool())
    assert det.model == "onnx:yolo-test"
    out = det.detect(frame_of(255), NO_MOTION)
    assert [(d.label, round(d.score, 4)) for d in out] == [
        ("person", 0.9),
        ("car", 0.8),
        ("car", 0.6),
    ]
    got = out[0].bbox
    assert (got.x1, got.y1, got.x2, got.y2) == pytest.approx(PERSON, abs=1e-6)
    got = out[1].bbox
    assert (got.x1, got.y1, got.x2, got.y2) == pytest.approx(CAR, abs=1e-6)


def test_onnx_input_really_flows_through_the_model(model: Path) -> None:
    det = OnnxDetector(OnnxOptions(model=model, conf=0.3), ModelPool())
    # A black frame: only the grey letterbox padding (114) is bright: scores x 114/255.
    out = det.detect(frame_of(0), NO_MOTION)
    assert [d.label for d in out] == ["person", "car"]
    assert out[0].score == pytest.approx(0.9 * 114 / 255, rel=1e-3)


def test_onnx_transposed_output_labels_option_and_class_filter(tmp_path: Path) -> None:
    path = build_yolo_model(tmp_path / "t.onnx", transposed=True)
    opts = OnnxOptions(model=path, labels=("human", "vehicle", "animal"), classes=("vehicle",))
    out = OnnxDetector(opts, ModelPool()).detect(frame_of(255), NO_MOTION)
    assert [d.label for d in out] == ["vehicle", "vehicle"]
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("a\nb\nc\n")
    det = OnnxDetector(OnnxOptions(model=path, labels=labels_file), ModelPool())
    assert det.labels == ("a", "b", "c")


def test_onnx_errors_are_clear(model: Path, tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="does not exist"):
        OnnxDetector(OnnxOptions(model=tmp_path / "missing.onnx"), ModelPool())
    with pytest.raises(DetectorError, match="providers"):
        OnnxDetector(OnnxOptions(model=model, providers=("NoSuchProvider",)), ModelPool())
    with pytest.raises(DetectorError, match="not labels"):
        OnnxDetector(OnnxOptions(model=model, classes=("cat",)), ModelPool())
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="cannot load"):
        OnnxDetector(OnnxOptions(model=garbage), ModelPool())


def test_model_pool_shares_sessions(model: Path) -> None:
    pool = ModelPool()
    a = pool.session(model, ("CUDAExecutionProvider", "CPUExecutionProvider"), 1)
    assert pool.session(model, ("CPUExecutionProvider",), 1) is a
    assert pool.session(model, ("CPUExecutionProvider",), 2) is not a


def scene_frame(t: float, width: int = 640, height: int = 360) -> tuple[Frame, np.ndarray]:
    scene = Scene(SceneSpec(seed=11))
    truth = scene.truth_at(t)
    img = render(background(width, height, 11), truth)
    return (
        Frame(ts_us=0, pts_s=t, width=width, height=height, bgr=img, truth=truth),
        np.array([(b.bbox.x1, b.bbox.y1, b.bbox.x2, b.bbox.y2) for b in truth]),
    )


def test_motion_detector_finds_the_moving_objects() -> None:
    gate = MotionGate(MotionConfig(work_width=320))
    empty = render(background(640, 360, 11), ())
    gate.update(Frame(ts_us=0, pts_s=0, width=640, height=360, bgr=empty).luma(), 0.0)
    frame, truth = scene_frame(20.0)
    assert len(truth) >= 2
    found = MotionDetector(MotionOptions()).detect(frame, gate.update(frame.luma(), frame.pts_s))
    assert {d.label for d in found} == {"motion"} and all(d.score == 1.0 for d in found)
    boxes = np.array([(d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2) for d in found])
    visible = truth[(truth[:, 2] - truth[:, 0]) * (truth[:, 3] - truth[:, 1]) >= 0.002]
    ious = iou_matrix(visible, boxes)
    assert len(found) == len(visible)
    assert (ious.max(axis=1) > 0.8).all()


def test_ground_truth_detector_returns_the_scene() -> None:
    frame, _truth = scene_frame(20.0)
    found = GroundTruthDetector(GroundTruthOptions()).detect(frame, NO_MOTION)
    assert [d.identity for d in found] == [t.object_id for t in frame.truth or ()]
    assert all(d.score == 1.0 for d in found)
    with pytest.raises(DetectorError, match="synthetic"):
        GroundTruthDetector(GroundTruthOptions()).detect(frame_of(0, 64, 36), NO_MOTION)


def test_hog_runs_and_returns_valid_people_boxes() -> None:
    frame, _ = scene_frame(20.0, 960, 540)
    det = HogDetector(HogOptions(scale_width=480))
    out = det.detect(frame, NO_MOTION)
    assert all(d.label == "person" and 0 <= d.score <= 1 for d in out)
    assert all(0 <= d.bbox.x1 < d.bbox.x2 <= 1 for d in out)


def test_options_are_validated_per_plugin() -> None:
    assert set(DETECTOR_KINDS) == {"motion", "hog", "onnx", "ground_truth"}
    common, plugin = split_options("motion", {"min_area": 0.01, "gate": False})
    assert not common.gate and isinstance(plugin, MotionOptions) and plugin.min_area == 0.01
    with pytest.raises(DetectorError, match=r"allowed options: .*min_area"):
        split_options("motion", {"min_aera": 0.01})
    with pytest.raises(DetectorError, match="model"):
        split_options("onnx", {})
    with pytest.raises(DetectorError, match="unknown detector kind"):
        split_options("yolo", {})
    det = build_detector("motion", MotionOptions(), ModelPool())
    assert det.model == "motion"
