"""The ``onnx`` detector: any YOLOv8/YOLO11-format ONNX model run by onnxruntime.

Preprocessing is the ultralytics letterbox (resize keeping the aspect ratio, pad with grey
114, RGB, 0..1 float, NCHW); decoding, NMS and the label map are in ``detectors.yolo``.
Execution providers default to CUDA when onnxruntime offers it, then CPU. Sessions are
shared: cameras with the same model, providers and thread count use one session through a
``ModelPool`` (onnxruntime sessions are safe to run from several threads).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field

from producers.detectors.base import Detection, DetectorPlugin, clip_box
from producers.detectors.yolo import (
    Letterbox,
    decode_yolo,
    label_map,
    letterbox_geometry,
    parse_names_metadata,
)
from producers.errors import DetectorError
from producers.frames import Frame, Image
from producers.motion import MotionResult

log = logging.getLogger(__name__)

AUTO_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


class OnnxOptions(BaseModel):
    """Options of the ONNX YOLO detector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Path = Field(description="path of the .onnx model file (YOLOv8/YOLO11 export)")
    labels: tuple[str, ...] | Path = Field(
        (), description="class names in model order, or a text file with one name per line"
    )
    conf: float = Field(0.25, ge=0, le=1, description="lowest class score kept")
    iou: float = Field(0.45, gt=0, le=1, description="NMS IoU threshold")
    max_det: int = Field(100, ge=1, le=10000, description="most objects kept per frame")
    imgsz: int = Field(640, ge=32, le=4096, description="input size when the model's is dynamic")
    providers: tuple[str, ...] = Field(
        AUTO_PROVIDERS, description="onnxruntime execution providers in preference order"
    )
    threads: int = Field(1, ge=0, le=64, description="intra-op threads per session (0 = ORT)")
    classes: tuple[str, ...] = Field((), description="keep only these labels (empty = all)")
    class_agnostic_nms: bool = Field(False, description="one NMS over all classes")


def _providers(wanted: tuple[str, ...]) -> list[str]:
    available = ort.get_available_providers()
    chosen = [p for p in wanted if p in available]
    if not chosen:
        raise DetectorError(
            f"none of the execution providers {list(wanted)} is available; "
            f"this onnxruntime offers {available}"
        )
    return chosen


class ModelPool:
    """onnxruntime sessions shared between cameras, keyed by model, providers and threads."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, tuple[str, ...], int], ort.InferenceSession] = {}
        self._lock = threading.Lock()

    def session(self, path: Path, providers: tuple[str, ...], threads: int) -> ort.InferenceSession:
        """The shared session of a model (loaded on first use)."""
        chosen = tuple(_providers(providers))
        key = (str(path.resolve()), chosen, threads)
        with self._lock:
            sess = self._sessions.get(key)
            if sess is None:
                if not path.is_file():
                    raise DetectorError(f"onnx model {path} does not exist")
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                try:
                    sess = ort.InferenceSession(str(path), opts, providers=list(chosen))
                except Exception as exc:  # onnxruntime raises its own untyped errors
                    raise DetectorError(f"cannot load onnx model {path}: {exc}") from exc
                log.info("onnx model loaded path=%s providers=%s", path, sess.get_providers())
                self._sessions[key] = sess
            return sess


def _read_labels(labels: tuple[str, ...] | Path) -> tuple[str, ...]:
    if isinstance(labels, Path):
        try:
            lines = labels.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DetectorError(f"cannot read labels file {labels}: {exc}") from exc
        return tuple(line.strip() for line in lines if line.strip())
    return labels


class OnnxDetector:
    """YOLO detections mapped back to the frame, labelled, best first."""

    def __init__(self, options: OnnxOptions, pool: ModelPool) -> None:
        self.options = options
        self.model = f"onnx:{options.model.stem}"
        self._session = pool.session(options.model, options.providers, options.threads)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._input_dtype = np.float16 if "float16" in inp.type else np.float32
        h, w = inp.shape[2], inp.shape[3]
        self._size = (
            w if isinstance(w, int) else options.imgsz,
            h if isinstance(h, int) else options.imgsz,
        )
        given = _read_labels(options.labels)
        meta = self._session.get_modelmeta().custom_metadata_map.get("names")
        hint = len(given) or len(parse_names_metadata(meta or "")) or None
        nc = self._num_classes(self._session.get_outputs()[0].shape, hint)
        try:
            self.labels = label_map(nc, given, meta)
        except ValueError as exc:
            raise DetectorError(f"onnx model {options.model}: {exc}") from exc
        unknown = set(options.classes) - set(self.labels)
        if unknown:
            raise DetectorError(f"classes {sorted(unknown)} are not labels of {options.model}")
        self._keep = {self.labels.index(c) for c in options.classes} or None

    def _num_classes(self, shape: list[object], hint: int | None) -> int:
        """Classes from the output shape: [1, 4 + nc, N] (export layout) or [1, N, 4 + nc].

        ``hint`` (the number of labels given or in the model's metadata) picks the axis when
        the layout is transposed; without it the export layout is assumed.
        """
        wanted = None if hint is None else hint + 4
        if len(shape) == 3:
            for dim in (shape[1], shape[2]):
                if isinstance(dim, int) and dim > 4 and wanted in (None, dim):
                    return dim - 4
        raise DetectorError(
            f"onnx model {self.options.model} output shape {shape} is not YOLO [1, 4+nc, N]"
        )

    def preprocess(self, bgr: Image) -> tuple[npt.NDArray[np.floating], Letterbox]:
        """The model input tensor and the letterbox used."""
        h, w = bgr.shape[:2]
        lb = letterbox_geometry(w, h, *self._size)
        resized = cv2.resize(bgr, (lb.new_w, lb.new_h), interpolation=cv2.INTER_LINEAR)
        padded = cv2.copyMakeBorder(
            resized,
            lb.pad_y,
            lb.dst_h - lb.new_h - lb.pad_y,
            lb.pad_x,
            lb.dst_w - lb.new_w - lb.pad_x,
            cv2.BORDER_CONSTANT,
            value=(114, 114, 114),
        )
        chw = np.asarray(padded, dtype=np.uint8)[..., ::-1].transpose(2, 0, 1)[None]
        tensor = chw.astype(np.float32) * np.float32(1.0 / 255.0)
        return np.ascontiguousarray(tensor, dtype=self._input_dtype), lb

    def detect(self, frame: Frame, motion: MotionResult) -> list[Detection]:
        """Objects on the frame."""
        tensor, lb = self.preprocess(frame.bgr())
        try:
            output = self._session.run(None, {self._input_name: tensor})[0]
        except Exception as exc:
            raise DetectorError(f"onnx inference failed ({self.options.model}): {exc}") from exc
        raw = decode_yolo(
            output,
            lb,
            conf=self.options.conf,
            iou=self.options.iou,
            max_det=self.options.max_det,
            class_agnostic=self.options.class_agnostic_nms,
            num_classes=len(self.labels),
        )
        out: list[Detection] = []
        for box, score, cls in zip(raw.boxes, raw.scores, raw.classes, strict=True):
            if self._keep is not None and int(cls) not in self._keep:
                continue
            bbox = clip_box(*(float(v) for v in box))
            if bbox is not None:
                out.append(Detection(self.labels[int(cls)], float(score), bbox))
        return out

    def close(self) -> None:
        """The session stays in the pool for other cameras."""


PLUGIN = DetectorPlugin("onnx", OnnxOptions, OnnxDetector)
