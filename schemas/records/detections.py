"""Typed records of the edge topics: frames and detections (the platform's hottest path).

Times are ``int`` UTC microseconds (see ``timestamps``), ids are UUID strings, arrays are tuples
so the records stay immutable and hashable. Fields are keyword-only, so a field added to the
schema (and here, in schema order) breaks no construction. The conversions are written out by
hand rather than left to ``mapping`` because these two topics carry every analysed frame: the
generic mapping decodes them several times slower (bench/bench_serde.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from schemas.records.geometry import BBox


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameRef:
    """One sampled frame of one camera; also the camera's event-time heartbeat."""

    SCHEMA: ClassVar[str] = "FrameRef"

    event_id: str
    camera_id: str
    frame_ts: int
    seq: int
    width: int
    height: int
    motion_score: float
    analysed: bool = False
    object_count: int = 0
    evidence_uri: str | None = None
    evidence_bytes: int | None = None
    evidence_sha256: str | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "frame_ts": self.frame_ts,
            "seq": self.seq,
            "width": self.width,
            "height": self.height,
            "motion_score": self.motion_score,
            "analysed": self.analysed,
            "object_count": self.object_count,
            "evidence_uri": self.evidence_uri,
            "evidence_bytes": self.evidence_bytes,
            "evidence_sha256": self.evidence_sha256,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> FrameRef:
        """Build from an Avro datum."""
        return _frame_ref(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectedObject:
    """One detected and tracked object on a frame."""

    track_id: int
    label: str
    score: float
    bbox: BBox

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        b = self.bbox
        # Inlined BBox.to_avro: this runs for every object on the hottest path.
        return {
            "track_id": self.track_id,
            "label": self.label,
            "score": self.score,
            "bbox": {"x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2},
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> DetectedObject:
        """Build from an Avro datum."""
        return _detected_object(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class Detections:
    """The objects found on one analysed frame."""

    SCHEMA: ClassVar[str] = "Detections"

    event_id: str
    camera_id: str
    frame_ts: int
    seq: int
    model: str
    objects: tuple[DetectedObject, ...]
    evidence_uri: str | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "frame_ts": self.frame_ts,
            "seq": self.seq,
            "model": self.model,
            "objects": [o.to_avro() for o in self.objects],
            "evidence_uri": self.evidence_uri,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Detections:
        """Build from an Avro datum."""
        return _detections(data)


# -- the frames and detections hot path ---------------------------------------------------
# Typed decoding of FrameRef and Detections runs for every frame of every camera. A frozen
# dataclass's __init__ sets each field through object.__setattr__, which made up a third of
# the whole decode; setting the same slots through their descriptors builds the same
# immutable objects (the generated __init__ validates nothing that is skipped here) at about
# two thirds of the cost. Keep the field lists in step with the classes: the avsc sync and
# round-trip tests compare these objects with ones built by __init__.


def _slot_setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    if names != tuple(f.name for f in fields(cls)):
        raise TypeError(f"{cls.__name__} fields changed: update the setters here")
    return tuple(cls.__dict__[name].__set__ for name in names)


_new = object.__new__
_SET_X1, _SET_Y1, _SET_X2, _SET_Y2 = _slot_setters(BBox, "x1", "y1", "x2", "y2")
_SET_TRACK, _SET_LABEL, _SET_SCORE, _SET_BBOX = _slot_setters(
    DetectedObject, "track_id", "label", "score", "bbox"
)
(
    _SET_EVENT_ID,
    _SET_CAMERA_ID,
    _SET_FRAME_TS,
    _SET_SEQ,
    _SET_MODEL,
    _SET_OBJECTS,
    _SET_EVIDENCE_URI,
) = _slot_setters(
    Detections, "event_id", "camera_id", "frame_ts", "seq", "model", "objects", "evidence_uri"
)


_FRAME_FIELDS = (
    "event_id",
    "camera_id",
    "frame_ts",
    "seq",
    "width",
    "height",
    "motion_score",
    "analysed",
    "object_count",
    "evidence_uri",
    "evidence_bytes",
    "evidence_sha256",
)
_FRAME_SETTERS = tuple(zip(_FRAME_FIELDS, _slot_setters(FrameRef, *_FRAME_FIELDS), strict=True))


def _frame_ref(data: Mapping[str, Any]) -> FrameRef:
    frame = _new(FrameRef)
    for name, set_value in _FRAME_SETTERS:
        set_value(frame, data[name])
    return frame


def _detected_object(data: Mapping[str, Any]) -> DetectedObject:
    b = data["bbox"]
    box = _new(BBox)
    _SET_X1(box, b["x1"])
    _SET_Y1(box, b["y1"])
    _SET_X2(box, b["x2"])
    _SET_Y2(box, b["y2"])
    obj = _new(DetectedObject)
    _SET_TRACK(obj, data["track_id"])
    _SET_LABEL(obj, data["label"])
    _SET_SCORE(obj, data["score"])
    _SET_BBOX(obj, box)
    return obj


def _detections(data: Mapping[str, Any]) -> Detections:
    objects = []
    for o in data["objects"]:
        b = o["bbox"]
        box = _new(BBox)
        _SET_X1(box, b["x1"])
        _SET_Y1(box, b["y1"])
        _SET_X2(box, b["x2"])
        _SET_Y2(box, b["y2"])
        obj = _new(DetectedObject)
        _SET_TRACK(obj, o["track_id"])
        _SET_LABEL(obj, o["label"])
        _SET_SCORE(obj, o["score"])
        _SET_BBOX(obj, box)
        objects.append(obj)
    record = _new(Detections)
    _SET_EVENT_ID(record, data["event_id"])
    _SET_CAMERA_ID(record, data["camera_id"])
    _SET_FRAME_TS(record, data["frame_ts"])
    _SET_SEQ(record, data["seq"])
    _SET_MODEL(record, data["model"])
    _SET_OBJECTS(record, tuple(objects))
    _SET_EVIDENCE_URI(record, data["evidence_uri"])
    return record
