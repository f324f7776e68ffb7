"""Event-time alignment of the two co-partitioned inputs: a frame waits for its detections.

Frames and detections are separate topics, fetched independently: the client may hand over
frames well before the detections of the same instants (replaying from offset 0, or when the
broker makes one topic's data visible later than the other's). A frame moves its camera's
clock (alerts end, tracks expire), so applying it before the detections of earlier frames
would make the outputs depend on fetch timing.

The edge says which frames have detections: a FrameRef analysed with ``object_count > 0``
has a Detections message with the same (frame_ts, seq), and no other frame has one. So per
camera, a frame with objects waits until the camera's detections reached its (frame_ts,
seq), and is then applied right after its own detections; frames without objects wait only
behind earlier frames of their camera (frames keep their topic order). Nothing depends on the
wall clock: replays interleave the two topics the same way however they are fetched.
Detections never wait: they are the latency-critical path, and a frame that arrives after
later detections of its camera is a no-op for the rules (its instant is already behind the
camera's clock).

A frame whose detections never come (dead-lettered, lost upstream) is applied after
``max_hold_s``, or when more than ``max_held`` frames of its camera wait.

The oldest waiting frame of a partition is where a restart must resume that frames
partition: the runtime commits no further. Pure: the caller passes the monotonic clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from schemas.records import FrameRef

_NONE = (-(2**63), -1)


@dataclass(frozen=True, slots=True)
class HeldFrame:
    """A frame consumed but not yet applied."""

    partition: int
    offset: int
    frame: FrameRef
    since: float


class _Partition:
    __slots__ = ("detected", "queues")

    def __init__(self) -> None:
        self.queues: dict[str, deque[HeldFrame]] = {}  # camera -> frames waiting, in order
        self.detected: dict[str, tuple[int, int]] = {}  # camera -> latest detections seen


def _key(frame: FrameRef) -> tuple[int, int]:
    return (frame.frame_ts, frame.seq)


class FrameAligner:
    """Holds each camera's frames until the detections they depend on have been applied."""

    def __init__(self, *, max_hold_s: float, max_held: int) -> None:
        self.max_hold_s = max_hold_s
        self.max_held = max_held
        self._parts: dict[int, _Partition] = {}

    @property
    def held(self) -> int:
        """Frames waiting, over every partition."""
        return sum(len(q) for part in self._parts.values() for q in part.queues.values())

    def assign(self, partition: int) -> None:
        """Start tracking a newly assigned partition."""
        self._parts[partition] = _Partition()

    def revoke(self, partition: int) -> None:
        """Forget a partition and its waiting frames (they were not committed past)."""
        self._parts.pop(partition, None)

    def first_held_offset(self, partition: int) -> int | None:
        """Offset of the oldest waiting frame of a partition, or None."""
        part = self._parts.get(partition)
        if part is None or not part.queues:
            return None
        return min(q[0].offset for q in part.queues.values())

    def _part(self, partition: int) -> _Partition:
        part = self._parts.get(partition)
        if part is None:
            part = self._parts[partition] = _Partition()
        return part

    def on_detections(
        self, partition: int, camera_id: str, frame_ts: int, seq: int
    ) -> tuple[list[HeldFrame], list[HeldFrame]]:
        """A camera's detections are about to be applied: the frames that belong before them,
        and the frames to apply right after them (theirs, and the ones that waited behind)."""
        part = self._part(partition)
        key = (frame_ts, seq)
        if key > part.detected.get(camera_id, _NONE):
            part.detected[camera_id] = key
        queue = part.queues.get(camera_id)
        if not queue:
            return [], []
        before = []
        while queue and _key(queue[0].frame) < key:
            before.append(queue.popleft())  # if it had objects, their detections are lost
        after = self._release_ready(part, camera_id, queue)
        return before, after

    def on_frame(self, partition: int, offset: int, frame: FrameRef, now: float) -> list[HeldFrame]:
        """A frame arrived: the frames to apply now (it, unless it must wait)."""
        part = self._part(partition)
        camera_id = frame.camera_id
        held = HeldFrame(partition, offset, frame, now)
        queue = part.queues.get(camera_id)
        if queue is None:
            if self._ready(part, frame):
                return [held]
            queue = part.queues[camera_id] = deque()
        queue.append(held)
        out = []
        while len(queue) > self.max_held:
            out.append(queue.popleft())
        out.extend(self._release_ready(part, camera_id, queue))
        return out

    def due(self, now: float) -> list[HeldFrame]:
        """Frames that waited ``max_hold_s`` for detections that did not come, and the ones
        behind them that are ready."""
        out: list[HeldFrame] = []
        for part in self._parts.values():
            for camera_id, queue in list(part.queues.items()):
                if now - queue[0].since < self.max_hold_s:
                    continue
                while queue and now - queue[0].since >= self.max_hold_s:
                    out.append(queue.popleft())
                out.extend(self._release_ready(part, camera_id, queue))
        return out

    @staticmethod
    def _ready(part: _Partition, frame: FrameRef) -> bool:
        if not frame.analysed or frame.object_count == 0:
            return True
        return part.detected.get(frame.camera_id, _NONE) >= _key(frame)

    def _release_ready(
        self, part: _Partition, camera_id: str, queue: deque[HeldFrame]
    ) -> list[HeldFrame]:
        out = []
        while queue and self._ready(part, queue[0].frame):
            out.append(queue.popleft())
        if not queue:
            del part.queues[camera_id]
        return out
