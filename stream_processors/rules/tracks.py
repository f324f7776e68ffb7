"""Per-camera track state: score history, inertia streak, stationary detection, parked boxes."""

from __future__ import annotations

from bisect import insort
from collections import deque
from typing import Any

from stream_processors.rules.geometry import iou


class Track:
    """What the rules know about one tracked object of one camera (mutable, hot path)."""

    __slots__ = (
        "evidence_uri",
        "fp",
        "history",
        "label",
        "last_msg",
        "last_seen",
        "last_seq",
        "median",
        "ref_ts",
        "rx1",
        "rx2",
        "ry1",
        "ry2",
        "score",
        "sorted_scores",
        "stationary",
        "streak",
        "track_id",
        "x1",
        "x2",
        "y1",
        "y2",
    )

    def __init__(self, track_id: int, label: str, history_size: int) -> None:
        self.track_id = track_id
        self.label = label
        self.score = 0.0
        self.median = 0.0
        self.history: deque[float] = deque(maxlen=history_size)
        self.sorted_scores: list[float] = []
        self.streak = 0
        self.last_msg = -1
        self.last_seen = 0
        self.last_seq = 0
        self.evidence_uri: str | None = None
        self.x1 = self.y1 = self.x2 = self.y2 = 0.0
        self.rx1 = self.ry1 = self.rx2 = self.ry2 = 0.0
        self.ref_ts = 0
        self.stationary = False
        self.fp = False

    def observe(  # noqa: PLR0917 - hot path: positional scalars, no record built per call
        self,
        msg_index: int,
        ts: int,
        seq: int,
        evidence_uri: str | None,
        label: str,
        score: float,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        stationary_iou: float,
        stationary_window_us: int,
    ) -> None:
        """Record one sighting: streak, score median, box and whether it has stopped moving."""
        new = self.last_msg < 0
        if new:
            self.streak = 1
        elif self.last_msg == msg_index - 1:
            self.streak += 1
        elif self.last_msg != msg_index:  # a second sighting in one message keeps the streak
            self.streak = 1
        self.last_msg = msg_index
        self.label = label
        self.score = score
        history = self.history
        ordered = self.sorted_scores
        if len(history) == history.maxlen:
            ordered.remove(history[0])
        history.append(score)
        insort(ordered, score)
        n = len(ordered)
        half = n >> 1
        self.median = ordered[half] if n & 1 else (ordered[half - 1] + ordered[half]) * 0.5
        if new:
            self._set_reference(ts, x1, y1, x2, y2)
        elif iou(x1, y1, x2, y2, self.rx1, self.ry1, self.rx2, self.ry2) < stationary_iou:
            # Moved: the window starts again from here.
            self._set_reference(ts, x1, y1, x2, y2)
            self.stationary = False
        elif ts - self.ref_ts >= stationary_window_us:
            self.stationary = True
        self.x1, self.y1, self.x2, self.y2 = x1, y1, x2, y2
        self.last_seen = ts
        self.last_seq = seq
        self.evidence_uri = evidence_uri

    def _set_reference(self, ts: int, x1: float, y1: float, x2: float, y2: float) -> None:
        self.rx1, self.ry1, self.rx2, self.ry2 = x1, y1, x2, y2
        self.ref_ts = ts

    def park_inherited(self, ts: int, window_us: int) -> None:
        """Start as stationary: this box was a parked object's, re-detected under a new id."""
        self.ref_ts = ts - window_us
        self.stationary = True

    def to_state(self) -> list[Any]:
        """JSON-able state (floats round-trip exactly through json)."""
        return [
            self.track_id,
            self.label,
            self.score,
            list(self.history),
            self.streak,
            self.last_msg,
            self.last_seen,
            self.last_seq,
            self.evidence_uri,
            [self.x1, self.y1, self.x2, self.y2],
            [self.rx1, self.ry1, self.rx2, self.ry2],
            self.ref_ts,
            self.stationary,
            self.fp,
        ]

    @classmethod
    def from_state(cls, state: list[Any], history_size: int) -> Track:
        """Rebuild from :meth:`to_state`."""
        (tid, label, score, history, streak, last_msg, last_seen, last_seq, uri, box, ref,
         ref_ts, stationary, fp) = state  # fmt: skip
        track = cls(int(tid), str(label), history_size)
        track.score = float(score)
        for s in history[-history_size:]:
            track.history.append(float(s))
            insort(track.sorted_scores, float(s))
        ordered = track.sorted_scores
        n = len(ordered)
        if n:
            half = n >> 1
            track.median = ordered[half] if n & 1 else (ordered[half - 1] + ordered[half]) * 0.5
        track.streak = int(streak)
        track.last_msg = int(last_msg)
        track.last_seen = int(last_seen)
        track.last_seq = int(last_seq)
        track.evidence_uri = None if uri is None else str(uri)
        track.x1, track.y1, track.x2, track.y2 = (float(v) for v in box)
        track.rx1, track.ry1, track.rx2, track.ry2 = (float(v) for v in ref)
        track.ref_ts = int(ref_ts)
        track.stationary = bool(stationary)
        track.fp = bool(fp)
        return track


class ParkedMemory:
    """Boxes of stationary tracks that got lost, remembered for a while per label.

    Trackers lose a parked car now and then and pick it up under a new id; without this the
    new id would enter its zones and alert again although nothing moved.
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        # (label, x1, y1, x2, y2, forget_at_us), oldest first
        self._entries: list[tuple[str, float, float, float, float, int]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, track: Track, until_us: int) -> None:
        """Remember a lost stationary track's last box until ``until_us``."""
        self._entries.append((track.label, track.x1, track.y1, track.x2, track.y2, until_us))
        if len(self._entries) > self._size:
            del self._entries[0]

    def claim(
        self, label: str, box: tuple[float, float, float, float], ts: int, thr: float
    ) -> bool:
        """Whether a new track's box is a remembered parked box (which is then consumed)."""
        x1, y1, x2, y2 = box
        entries = self._entries
        if not entries:
            return False
        entries[:] = [e for e in entries if e[5] > ts]
        for i, (elabel, ex1, ey1, ex2, ey2, _) in enumerate(entries):
            if elabel == label and iou(x1, y1, x2, y2, ex1, ey1, ex2, ey2) >= thr:
                del entries[i]
                return True
        return False

    def to_state(self) -> list[Any]:
        """JSON-able state."""
        return [list(e) for e in self._entries]

    def load_state(self, state: list[Any]) -> None:
        """Replace the entries with :meth:`to_state` output."""
        self._entries = [
            (str(e[0]), float(e[1]), float(e[2]), float(e[3]), float(e[4]), int(e[5]))
            for e in state
        ]
