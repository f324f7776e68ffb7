"""YOLOv8 / YOLO11 output decoding: letterbox geometry, score filtering, NMS, label maps.

Pure numpy, shared by the onnx plugin and its tests. The exported models take a letterboxed
RGB float image (resized keeping the aspect ratio, padded with grey to the model size) and
output ``[1, 4 + nc, N]``: per candidate box centre x, centre y, width, height in input
pixels followed by one score per class (no objectness column, unlike YOLOv5).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32] | npt.NDArray[np.float64]

COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
"""The 80 COCO class names in the order YOLO models trained on COCO use."""


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a ``src`` image maps into the model input: ``dst = src * scale + pad``."""

    src_w: int
    src_h: int
    dst_w: int
    dst_h: int
    scale: float
    new_w: int
    new_h: int
    pad_x: int
    pad_y: int


def letterbox_geometry(src_w: int, src_h: int, dst_w: int, dst_h: int) -> Letterbox:
    """Scale to fit inside dst keeping the aspect ratio, centred with padding (as ultralytics)."""
    if min(src_w, src_h, dst_w, dst_h) <= 0:
        raise ValueError(f"sizes must be positive: {src_w}x{src_h} -> {dst_w}x{dst_h}")
    scale = min(dst_w / src_w, dst_h / src_h)
    new_w = max(1, round(src_w * scale))
    new_h = max(1, round(src_h * scale))
    pad_x = (dst_w - new_w) // 2
    pad_y = (dst_h - new_h) // 2
    return Letterbox(src_w, src_h, dst_w, dst_h, scale, new_w, new_h, pad_x, pad_y)


def unletterbox(boxes_xyxy: Floats, lb: Letterbox) -> npt.NDArray[np.float64]:
    """Boxes in model-input pixels -> boxes normalised 0..1 to the source frame, clipped."""
    out = np.asarray(boxes_xyxy, dtype=np.float64).copy()
    # new_w/src_w is the exact per-axis scale after rounding the resized size.
    sx = lb.new_w / lb.src_w
    sy = lb.new_h / lb.src_h
    out[:, [0, 2]] = (out[:, [0, 2]] - lb.pad_x) / sx / lb.src_w
    out[:, [1, 3]] = (out[:, [1, 3]] - lb.pad_y) / sy / lb.src_h
    clipped: npt.NDArray[np.float64] = np.clip(out, 0.0, 1.0)
    return clipped


def yolo_candidates(output: Floats, num_classes: int | None = None) -> npt.NDArray[np.float32]:
    """The raw output as rows of (cx, cy, w, h, class scores...), shape (N, 4 + nc).

    Accepts ``[1, 4 + nc, N]`` (the export default) and the transposed ``[1, N, 4 + nc]``.
    With ``num_classes`` the attribute axis is the one of size ``4 + num_classes`` (the
    export layout when both are); without, it is taken to be the shorter one, as N
    (thousands of anchors) is far larger than 4 + nc for real models.
    """
    arr = np.asarray(output, dtype=np.float32)
    if arr.ndim == 3:
        if arr.shape[0] != 1:
            raise ValueError(f"expected a batch of one, got output shape {arr.shape}")
        arr = arr[0]
    if arr.ndim != 2 or max(arr.shape) < 5 or (num_classes is None and min(arr.shape) < 5):
        raise ValueError(f"expected a YOLO output [1, 4+nc, N], got shape {output.shape}")
    if num_classes is not None:
        if arr.shape[0] == 4 + num_classes:
            return arr.T
        if arr.shape[1] == 4 + num_classes:
            return arr
        raise ValueError(f"output shape {output.shape} has no axis of 4 + {num_classes} classes")
    return arr.T if arr.shape[0] < arr.shape[1] else arr


def nms(boxes: Floats, scores: Floats, iou_threshold: float) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; indices of kept boxes by descending score."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.intp)
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.intp)


def batched_nms(
    boxes: Floats, scores: Floats, classes: npt.NDArray[np.intp], iou_threshold: float
) -> npt.NDArray[np.intp]:
    """Per-class NMS in one pass: boxes of different classes are shifted apart first."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.intp)
    offset = (float(np.max(boxes)) + 1.0) * classes.astype(np.float64)
    return nms(boxes + offset[:, None], scores, iou_threshold)


@dataclass(frozen=True, slots=True)
class RawDetections:
    """Decoded detections: normalised xyxy boxes, scores and class ids, best first."""

    boxes: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float32]
    classes: npt.NDArray[np.intp]


def decode_yolo(
    output: Floats,
    lb: Letterbox,
    *,
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = 300,
    class_agnostic: bool = False,
    num_classes: int | None = None,
) -> RawDetections:
    """Filter by score, NMS, and map boxes back to the source frame."""
    cand = yolo_candidates(output, num_classes)
    class_scores = cand[:, 4:]
    classes = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(len(cand)), classes]
    keep = scores >= conf
    cand, classes, scores = cand[keep], classes[keep], scores[keep]
    cx, cy, w, h = cand[:, 0], cand[:, 1], cand[:, 2], cand[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    if class_agnostic:
        kept = nms(xyxy, scores, iou)
    else:
        kept = batched_nms(xyxy, scores, classes.astype(np.intp), iou)
    kept = kept[:max_det]
    return RawDetections(
        unletterbox(xyxy[kept], lb), scores[kept].astype(np.float32), classes[kept].astype(np.intp)
    )


def parse_names_metadata(text: str) -> tuple[str, ...]:
    """Class names from an ultralytics ``names`` metadata value, e.g. ``{0: 'person', ...}``."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return ()
    if isinstance(value, Mapping):
        try:
            return tuple(str(value[k]) for k in sorted(value, key=int))
        except (TypeError, ValueError):
            return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def label_map(
    num_classes: int, given: Sequence[str] = (), metadata: str | None = None
) -> tuple[str, ...]:
    """Class names for ``num_classes``: given, else model metadata, else COCO, else class_<i>.

    Raises ValueError when given names do not match the model's class count.
    """
    if given:
        if len(given) != num_classes:
            raise ValueError(
                f"labels has {len(given)} names but the model has {num_classes} classes"
            )
        return tuple(given)
    if metadata:
        names = parse_names_metadata(metadata)
        if len(names) == num_classes:
            return names
    if num_classes == len(COCO_LABELS):
        return COCO_LABELS
    return tuple(f"class_{i}" for i in range(num_classes))
