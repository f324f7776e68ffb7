"""Alert clips: the recorded video of a time range, cut from segments without re-encoding.

``covering`` picks a camera's segments that overlap the range (pure); ``cut`` remuxes their
packets, in order, into one MP4 (``+faststart``) from the last keyframe at or before the start
(a player needs it; no decoding, so the clip may begin up to one GOP early) to the last packet
before the end. Timestamps run on across segments from the segments' event times, so a clip
spanning several segments plays as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from producers.errors import EvidenceError
from producers.recording.errors import ClipError
from producers.recording.mp4 import FASTSTART, CodecInfo, Mp4Writer, codec_info, copy_packet

_US = 1_000_000


@dataclass(frozen=True, slots=True)
class SegmentRef:
    """A recorded segment as the PostgreSQL projection lists it."""

    camera_id: str
    start_us: int
    end_us: int
    uri: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What a clip holds: its event-time range (from a keyframe), packets, and any caveat."""

    start_us: int
    end_us: int
    packets: int
    segments: int
    note: str | None = None


def clip_range(
    start_us: int, end_us: int | None, *, pre_s: float, post_s: float, max_s: float
) -> tuple[int, int]:
    """The video range of an alert: ``pre_s`` before its start to ``post_s`` after its end (its
    start while it is open), at most ``max_s`` long."""
    lo = start_us - round(pre_s * _US)
    hi = max(end_us if end_us is not None else start_us, start_us) + round(post_s * _US)
    return lo, min(hi, lo + round(max_s * _US))


def covering(segments: Iterable[SegmentRef], start_us: int, end_us: int) -> list[SegmentRef]:
    """The segments that overlap ``[start_us, end_us)``, by start time (one per start)."""
    by_start = {s.start_us: s for s in segments if s.start_us < end_us and s.end_us > start_us}
    return [by_start[k] for k in sorted(by_start)]


def gaps(segments: Sequence[SegmentRef], start_us: int, end_us: int) -> list[tuple[int, int]]:
    """Parts of ``[start_us, end_us)`` no segment covers (sorted segments from ``covering``)."""
    out: list[tuple[int, int]] = []
    at = start_us
    for s in segments:
        if s.start_us > at:
            out.append((at, min(s.start_us, end_us)))
        at = max(at, s.end_us)
    if at < end_us:
        out.append((at, end_us))
    return out


def cut(files: Sequence[tuple[Path, int]], start_us: int, end_us: int, out: Path) -> ClipInfo:
    """Remux ``[start_us, end_us)`` of segment files (path, segment start time) into ``out``."""
    cutter = _Cutter(start_us, end_us, out)
    try:
        for path, seg_start in files:
            if not cutter.segment(path, seg_start):
                break
    except av.error.FFmpegError as exc:
        raise ClipError(f"recorded video cannot be read: {exc}") from exc
    except EvidenceError as exc:
        raise ClipError(str(exc)) from exc
    finally:
        cutter.close()
    return cutter.info()


class _Cutter:
    """State of one cut: the keyframe GOP waiting for the start, then the open writer."""

    def __init__(self, start_us: int, end_us: int, out: Path) -> None:
        self.start_us = start_us
        self.end_us = end_us
        self.out = out
        self.writer: Mp4Writer | None = None
        self.tb = Fraction(1, 90_000)
        self.origin = 0  # event time of the clip's first packet (a keyframe)
        self.last_us = start_us
        self.pending: list[tuple[Any, int, int]] = []
        self.codec: CodecInfo | None = None
        self.note: str | None = None
        self.used = 0

    def segment(self, path: Path, seg_start: int) -> bool:
        """Take one segment's packets; False once the clip is complete."""
        try:
            container = av.open(str(path))
        except av.error.FFmpegError as exc:
            raise ClipError(f"recorded segment {path.name} cannot be read: {exc}") from exc
        with container:
            if not container.streams.video:
                raise ClipError(f"recorded segment {path.name} has no video stream")
            stream = container.streams.video[0]
            if self.codec is None:
                self.codec = codec_info(stream)
            elif codec_info(stream) != self.codec:
                self.note = f"the video changed format at {seg_start} us; the clip ends there"
                return False
            tb = Fraction(stream.time_base or Fraction(1, 90_000))
            first: int | None = None
            took = False
            for packet in container.demux(stream):
                t = packet.pts if packet.pts is not None else packet.dts
                if not packet.size or t is None:
                    continue
                first = t if first is None else first
                ts = seg_start + round((t - first) * tb * _US)
                if ts >= self.end_us:
                    self.used += took
                    return False
                dts = packet.dts if packet.dts is not None else t
                dts_us = seg_start + round((dts - first) * tb * _US)
                took |= self._packet(packet, stream, tb, ts, dts_us)
                self.last_us = max(self.last_us, ts + round((packet.duration or 0) * tb * _US))
            self.used += took
        return True

    def _packet(self, packet: Any, stream: Any, tb: Fraction, ts: int, dts_us: int) -> bool:
        if self.writer is not None:
            self._write(copy_packet(packet), ts, dts_us)
            return True
        if packet.is_keyframe and ts <= self.start_us:
            self.pending = []
        elif not self.pending and not packet.is_keyframe:
            return False  # no keyframe yet: a player could not start here
        if not self.pending:
            self.origin = ts
        self.pending.append((copy_packet(packet), ts, dts_us))
        if ts < self.start_us:
            return False
        self.tb = tb
        self.writer = Mp4Writer(self.out, stream, FASTSTART)
        for p, p_ts, p_dts in self.pending:
            self._write(p, p_ts, p_dts)
        self.pending = []
        return True

    def _write(self, packet: Any, ts: int, dts_us: int) -> None:
        assert self.writer is not None
        packet.pts = round(Fraction(ts - self.origin, _US) / self.tb)
        packet.dts = round(Fraction(dts_us - self.origin, _US) / self.tb)
        packet.time_base = self.tb
        self.writer.write(packet)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def info(self) -> ClipInfo:
        if self.writer is None:
            raise ClipError("no recorded packet falls in the range")
        end = min(self.last_us, self.end_us)
        return ClipInfo(self.origin, end, self.writer.packets, self.used, self.note)
