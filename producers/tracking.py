"""Multi-object tracker: stable track ids from per-frame detections (ByteTrack style).

Pure Python + numpy. Each track keeps its last box and a per-second velocity of the box
corners, so boxes are predicted to the new frame's time before matching (frames arrive at
irregular times because the motion gate skips quiet ones). Association, greedy on IoU of the
predicted boxes, runs in ByteTrack's stages:

1. confident detections (score >= ``high_score``) against every live track;
2. weak detections (``low_score`` <= score < ``high_score``) against the tracks still
   unmatched that were seen on the previous analysed frame, which keeps a track alive through
   a dip in confidence without letting weak noise start tracks;
3. remaining confident detections against remaining tracks by centre distance (relative to
   the track's box size): a fast or small object whose boxes no longer overlap between frames,
   or a track without a velocity yet, still keeps its id.

Unmatched confident detections start tracks; unmatched tracks are kept for ``max_lost_s``
seconds (the lost-track buffer) and can be picked up again in that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from producers.detectors.base import Detection
from schemas.records import DetectedObject

Boxes = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackerConfig:
    """Tuning of the tracker."""

    high_score: float = 0.5
    low_score: float = 0.1
    match_iou: float = 0.2
    centre_gate: float = 1.5
    max_lost_s: float = 2.0
    min_hits: int = 1
    class_aware: bool = True
    velocity_smoothing: float = 0.5


@dataclass(slots=True)
class _Track:
    track_id: int
    label: str
    box: Boxes
    ts: float
    velocity: Boxes = field(default_factory=lambda: np.zeros(4))
    hits: int = 1
    has_velocity: bool = False
    seen_last_update: bool = True

    def predict(self, ts: float) -> Boxes:
        return self.box + self.velocity * (ts - self.ts)


def iou_matrix(a: Boxes, b: Boxes) -> Boxes:
    """Pairwise IoU of two sets of (x1, y1, x2, y2) boxes, shape (len(a), len(b))."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: Boxes = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def greedy_match(score: Boxes, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col) picked greedily by descending score, each at least ``threshold``."""
    if score.size == 0:
        return []
    rows, cols = np.nonzero(score >= threshold)
    order = np.argsort(-score[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pairs.append((r, c))
    return pairs


def _as_array(dets: Sequence[Detection]) -> Boxes:
    return np.array([(d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2) for d in dets], dtype=np.float64)


class Tracker:
    """Tracks of one camera; ``update`` once per analysed frame, in event-time order."""

    def __init__(self, config: TrackerConfig | None = None, *, first_id: int = 1) -> None:
        self.config = config or TrackerConfig()
        self._next_id = first_id
        self._tracks: list[_Track] = []

    def update(self, detections: Sequence[Detection], ts_s: float) -> list[DetectedObject]:
        """Assign track ids to one frame's detections; returns the tracked objects."""
        cfg = self.config
        self._tracks = [t for t in self._tracks if ts_s - t.ts <= cfg.max_lost_s]
        high = [i for i, d in enumerate(detections) if d.score >= cfg.high_score]
        low = [i for i, d in enumerate(detections) if cfg.low_score <= d.score < cfg.high_score]
        free_tracks = list(range(len(self._tracks)))
        predicted = (
            np.array([t.predict(ts_s) for t in self._tracks]) if self._tracks else np.zeros((0, 4))
        )
        matches: dict[int, int] = {}  # detection index -> track index

        def stage(det_idx: list[int], trk_idx: list[int], by_centre: bool) -> list[int]:
            if not det_idx or not trk_idx:
                return det_idx
            dets = _as_array([detections[i] for i in det_idx])
            trks = predicted[trk_idx]
            score = self._centre_score(trks, dets) if by_centre else iou_matrix(trks, dets)
            if cfg.class_aware:
                for r, ti in enumerate(trk_idx):
                    for c, di in enumerate(det_idx):
                        if self._tracks[ti].label != detections[di].label:
                            score[r, c] = 0.0
            threshold = 1e-9 if by_centre else cfg.match_iou
            taken = greedy_match(score, threshold)
            for r, c in taken:
                matches[det_idx[c]] = trk_idx[r]
                free_tracks.remove(trk_idx[r])
            matched_cols = {c for _, c in taken}
            return [di for c, di in enumerate(det_idx) if c not in matched_cols]

        high_left = stage(high, list(free_tracks), by_centre=False)
        recent = [ti for ti in free_tracks if self._tracks[ti].seen_last_update]
        stage(low, recent, by_centre=False)
        high_left = stage(high_left, list(free_tracks), by_centre=True)

        for track in self._tracks:
            track.seen_last_update = False
        out: list[DetectedObject] = []
        for di, det in enumerate(detections):
            ti = matches.get(di)
            if ti is not None:
                track = self._tracks[ti]
                self._advance(track, det, ts_s)
            elif di in high_left:
                track = _Track(self._next_id, det.label, _as_array([det])[0], ts_s)
                self._next_id += 1
                self._tracks.append(track)
            else:
                continue
            if track.hits >= cfg.min_hits:
                out.append(
                    DetectedObject(
                        track_id=track.track_id, label=det.label, score=det.score, bbox=det.bbox
                    )
                )
        return out

    def _advance(self, track: _Track, det: Detection, ts_s: float) -> None:
        box = _as_array([det])[0]
        dt = ts_s - track.ts
        if dt > 0:
            velocity = (box - track.box) / dt
            if track.has_velocity:
                k = self.config.velocity_smoothing
                velocity = k * velocity + (1 - k) * track.velocity
            track.velocity = velocity
            track.has_velocity = True
        track.box = box
        track.ts = ts_s
        track.label = det.label
        track.hits += 1
        track.seen_last_update = True

    def _centre_score(self, trks: Boxes, dets: Boxes) -> Boxes:
        """1 - distance/gate between centres, where the gate scales with the track's size."""
        tc = (trks[:, :2] + trks[:, 2:]) / 2
        dc = (dets[:, :2] + dets[:, 2:]) / 2
        size = np.maximum(trks[:, 2] - trks[:, 0], trks[:, 3] - trks[:, 1])
        gate = np.maximum(size * self.config.centre_gate, 1e-6)
        dist = np.linalg.norm(tc[:, None, :] - dc[None, :, :], axis=2)
        out: Boxes = np.clip(1.0 - dist / gate[:, None], 0.0, None)
        return out
