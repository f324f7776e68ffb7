"""YOLO decoding: letterbox geometry, NMS, output layout and label maps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.detectors.yolo import (
    COCO_LABELS,
    batched_nms,
    decode_yolo,
    label_map,
    letterbox_geometry,
    nms,
    parse_names_metadata,
    unletterbox,
    yolo_candidates,
)


def test_letterbox_of_a_wide_frame_pads_top_and_bottom() -> None:
    lb = letterbox_geometry(1280, 720, 640, 640)
    assert (lb.scale, lb.new_w, lb.new_h, lb.pad_x, lb.pad_y) == (0.5, 640, 360, 0, 140)
    tall = letterbox_geometry(480, 640, 640, 640)
    assert (tall.new_w, tall.new_h, tall.pad_x, tall.pad_y) == (480, 640, 80, 0)


@given(
    w=st.integers(16, 4000),
    h=st.integers(16, 4000),
    size=st.sampled_from([320, 416, 640, 1280]),
    box=st.tuples(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0.5, 1), st.floats(0.5, 1)),
)
def test_unletterbox_inverts_the_letterbox(
    w: int, h: int, size: int, box: tuple[float, float, float, float]
) -> None:
    lb = letterbox_geometry(w, h, size, size)
    x1, y1, x2, y2 = box
    sx, sy = lb.new_w / w, lb.new_h / h
    model_px = np.array(
        [
            [
                x1 * w * sx + lb.pad_x,
                y1 * h * sy + lb.pad_y,
                x2 * w * sx + lb.pad_x,
                y2 * h * sy + lb.pad_y,
            ]
        ]
    )
    back = unletterbox(model_px, lb)[0]
    assert back == pytest.approx([x1, y1, x2, y2], abs=1e-9)


def test_unletterbox_clips_boxes_in_the_padding() -> None:
    lb = letterbox_geometry(1280, 720, 640, 640)
    out = unletterbox(np.array([[-10.0, 0.0, 700.0, 130.0]]), lb)[0]
    assert list(out) == [0.0, 0.0, 1.0, 0.0]


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=float)
    scores = np.array([0.8, 0.9, 0.7])
    assert list(nms(boxes, scores, 0.5)) == [1, 2]
    assert list(nms(boxes, scores, 0.9)) == [1, 0, 2]
    assert len(nms(np.zeros((0, 4)), np.zeros(0), 0.5)) == 0


def test_batched_nms_keeps_overlapping_boxes_of_different_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], dtype=float)
    scores = np.array([0.8, 0.9])
    assert sorted(batched_nms(boxes, scores, np.array([0, 1]), 0.5)) == [0, 1]
    assert list(batched_nms(boxes, scores, np.array([1, 1]), 0.5)) == [1]


def yolo_output(rows: list[tuple[float, float, float, float, list[float]]]) -> np.ndarray:
    nc = len(rows[0][4])
    out = np.zeros((1, 4 + nc, len(rows)), dtype=np.float32)
    for i, (cx, cy, w, h, scores) in enumerate(rows):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4:, i] = scores
    return out


def test_decode_filters_suppresses_and_maps_back() -> None:
    lb = letterbox_geometry(1280, 720, 640, 640)
    out = yolo_output(
        [
            (100, 340, 100, 200, [0.9, 0.0, 0.0]),  # person at (100,200)-(300,600) in the frame
            (102, 342, 100, 200, [0.6, 0.0, 0.0]),  # a duplicate
            (420, 370, 200, 100, [0.0, 0.8, 0.0]),  # car at (640,360)-(1040,560)
            (300, 300, 50, 50, [0.0, 0.0, 0.1]),  # below conf
        ]
    )
    raw = decode_yolo(out, lb, conf=0.25, iou=0.45, num_classes=3)
    assert list(raw.classes) == [0, 1]
    assert raw.scores == pytest.approx([0.9, 0.8])
    assert raw.boxes[0] == pytest.approx([100 / 1280, 200 / 720, 300 / 1280, 600 / 720])
    assert raw.boxes[1] == pytest.approx([640 / 1280, 360 / 720, 1040 / 1280, 560 / 720])
    assert len(decode_yolo(out, lb, conf=0.25, max_det=1, num_classes=3).scores) == 1


def test_transposed_layout_is_accepted_and_bad_shapes_are_not() -> None:
    out = yolo_output([(10, 10, 4, 4, [0.5, 0.1])] * 20)
    assert yolo_candidates(out).shape == (20, 6)
    assert yolo_candidates(out.transpose(0, 2, 1)).shape == (20, 6)
    with pytest.raises(ValueError):
        yolo_candidates(np.zeros((2, 6, 20)))
    with pytest.raises(ValueError):
        yolo_candidates(np.zeros((1, 3, 20)))
    small = yolo_output([(10, 10, 4, 4, [0.5, 0.1, 0.2])] * 4)  # N=4 < 4+nc=7
    assert yolo_candidates(small, num_classes=3).shape == (4, 7)
    assert yolo_candidates(small.transpose(0, 2, 1), num_classes=3).shape == (4, 7)
    with pytest.raises(ValueError, match="no axis"):
        yolo_candidates(small, num_classes=5)


def test_label_maps() -> None:
    assert parse_names_metadata("{0: 'person', 1: 'car'}") == ("person", "car")
    assert parse_names_metadata("['a', 'b']") == ("a", "b")
    assert parse_names_metadata("not python") == ()
    assert label_map(2, ("x", "y")) == ("x", "y")
    assert label_map(2, (), "{0: 'person', 1: 'car'}") == ("person", "car")
    assert label_map(80) == COCO_LABELS and COCO_LABELS[2] == "car"
    assert label_map(3) == ("class_0", "class_1", "class_2")
    with pytest.raises(ValueError, match="3 classes"):
        label_map(3, ("a",))
