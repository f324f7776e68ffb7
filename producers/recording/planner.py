"""Where segments start and end, and which packets go into them. Pure: no PyAV, no I/O.

The planner sees one stream's packets in decode order, each with its event time (the frame
clock of the edge) and keyframe flag, plus the pipeline's detections (``activity``). It calls
an injected ``SegmentOutput``: ``open`` at a keyframe, ``write`` per packet, ``close`` with the
end time. A segment always starts at a keyframe (a player can start there), and is cut at
the first keyframe at least ``segment_s`` after its start; the next segment starts at that
same keyframe's time, so a recording's segments cover it without gap or overlap.

``continuous``: every packet from the first keyframe on is written.
``events``: packets wait in a ring buffer of whole GOPs covering the last ``pre_s`` seconds
(plus ``lag_s`` for the detector running behind the demuxer); a detection at time t writes
the ring from the last keyframe at or before ``t - pre_s`` and keeps writing until the first
keyframe after ``last detection + post_s``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from producers.recording.spec import RecordSpec

P = TypeVar("P")
P_contra = TypeVar("P_contra", contravariant=True)

_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Timed(Generic[P]):
    """A packet with its event time and duration in microseconds."""

    ts_us: int
    duration_us: int
    keyframe: bool
    packet: P


class SegmentOutput(Protocol[P_contra]):
    """Where the planner's decisions go (the MP4 writer, or a list in tests)."""

    def open(self, start_us: int) -> None:
        """Start a segment at a keyframe of this event time."""
        ...

    def write(self, packet: P_contra) -> None:
        """Add a packet to the open segment."""
        ...

    def close(self, end_us: int) -> None:
        """Finish the open segment; it covers [start, end_us)."""
        ...


@dataclass(slots=True)
class _Gop(Generic[P]):
    start_us: int
    packets: list[Timed[P]] = field(default_factory=list)


class SegmentPlanner(Generic[P]):
    """Cuts one stream into segments (one instance per opened stream)."""

    def __init__(self, spec: RecordSpec, output: SegmentOutput[P], *, lag_s: float = 2.0) -> None:
        if not spec.on:
            raise ValueError("a planner needs a recording mode other than off")
        self.spec = spec
        self.out = output
        self._events = spec.mode == "events"
        self._segment_us = round(spec.segment_s * _US)
        self._keep_us = round((spec.pre_s + lag_s) * _US)
        self._pre_us = round(spec.pre_s * _US)
        self._post_us = round(spec.post_s * _US)
        self._ring: deque[_Gop[P]] = deque()
        self._start: int | None = None  # start of the open segment
        self._end = 0  # furthest ts + duration written into the open segment
        self._last_activity: int | None = None
        self.dropped = 0  # packets before the first keyframe (no segment can start there)

    @property
    def recording(self) -> bool:
        """True while a segment is open."""
        return self._start is not None

    def packet(self, p: Timed[P]) -> None:
        """Take the next packet in decode order."""
        if self._start is not None:
            if p.keyframe and self._events and self._idle_at(p.ts_us):
                self._close(p.ts_us)
            elif p.keyframe and p.ts_us - self._start >= self._segment_us:
                self._close(p.ts_us)
                self._open(p.ts_us)
        if self._start is None and p.keyframe and (not self._events or self._wanted(p.ts_us)):
            self._ring.clear()
            self._open(p.ts_us)
        if self._start is not None:
            self._write(p)
        elif self._events:
            self._buffer(p)
        else:
            self.dropped += 1

    def activity(self, ts_us: int) -> None:
        """A detection at event time ``ts_us`` (events mode: start or extend the recording)."""
        if not self._events:
            return
        if self._last_activity is None or ts_us > self._last_activity:
            self._last_activity = ts_us
        if self._start is not None or not self._ring:
            return
        start_at = ts_us - self._pre_us
        gops = list(self._ring)
        first = 0
        for i, gop in enumerate(gops):
            if gop.start_us <= start_at:
                first = i
        self._ring.clear()
        for gop in gops[first:]:
            for p in gop.packets:
                if self._start is None:
                    self._open(p.ts_us)
                elif p.keyframe and p.ts_us - self._start >= self._segment_us:
                    self._close(p.ts_us)
                    self._open(p.ts_us)
                self._write(p)

    def end(self) -> None:
        """The stream ended: close the open segment at its last packet's end."""
        if self._start is not None:
            self._close(max(self._end, self._start + 1))
        self._ring.clear()

    # ---- internals ---------------------------------------------------------------------------

    def _idle_at(self, ts_us: int) -> bool:
        last = self._last_activity
        return last is None or ts_us > last + self._post_us

    def _wanted(self, ts_us: int) -> bool:
        last = self._last_activity
        return last is not None and ts_us <= last + self._post_us

    def _open(self, start_us: int) -> None:
        self._start = start_us
        self._end = start_us
        self.out.open(start_us)

    def _write(self, p: Timed[P]) -> None:
        self.out.write(p.packet)
        self._end = max(self._end, p.ts_us + p.duration_us)

    def _close(self, end_us: int) -> None:
        self.out.close(end_us)
        self._start = None

    def _buffer(self, p: Timed[P]) -> None:
        ring = self._ring
        if p.keyframe:
            ring.append(_Gop(p.ts_us))
        elif not ring:
            self.dropped += 1
            return
        ring[-1].packets.append(p)
        horizon = p.ts_us - self._keep_us
        while len(ring) >= 2 and ring[1].start_us <= horizon:
            ring.popleft()
