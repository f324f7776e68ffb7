"""Writing encoded packets into MP4 files with PyAV, without decoding or encoding anything.

Segments are written as fragmented MP4 (a fragment per keyframe, the header first), so a file
cut short by a crash still plays up to its last complete fragment. Timestamps are rebased so
that a segment's first keyframe is presented at 0; the codec parameters (extradata, size,
profile) are copied from the input stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error

from producers.errors import EvidenceError

FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
FASTSTART = {"movflags": "+faststart"}


@dataclass(frozen=True, slots=True)
class CodecInfo:
    """What a RecordingSegment says about the video inside."""

    codec: str
    width: int
    height: int


def codec_info(stream: Any) -> CodecInfo:
    """Codec name and coded size of a PyAV video stream."""
    ctx = stream.codec_context
    return CodecInfo(str(ctx.name), int(ctx.width or 0), int(ctx.height or 0))


def copy_packet(packet: Any) -> Any:
    """A packet with its own copy of the data and timing (safe to keep and to re-stream).

    The demuxed packet still goes to the decoder after the recorder has seen it, so the
    recorder must not change its stream or timestamps.
    """
    q = av.Packet(packet)
    q.pts = packet.pts
    q.dts = packet.dts
    q.duration = packet.duration
    q.time_base = packet.time_base
    q.is_keyframe = packet.is_keyframe
    return q


class Mp4Writer:
    """One MP4 file with one video stream copied from ``template`` (an input stream)."""

    def __init__(self, path: Path, template: Any, options: dict[str, str] | None = None) -> None:
        self.path = path
        try:
            self._out = av.open(str(path), mode="w", format="mp4", options=options or FRAGMENTED)
            self._stream = self._out.add_stream_from_template(template)
        except (av.error.FFmpegError, OSError) as exc:
            raise EvidenceError(f"cannot write MP4 {path}: {exc}") from exc
        self._base: int | None = None
        self.packets = 0
        self.bytes_in = 0

    def write(self, packet: Any) -> None:
        """Mux a packet (the writer's own copy: its timestamps are rebased in place)."""
        pts = packet.pts if packet.pts is not None else packet.dts
        if self._base is None:
            self._base = pts or 0
        base = self._base
        if packet.pts is not None:
            packet.pts -= base
        if packet.dts is not None:
            packet.dts -= base
        packet.stream = self._stream
        try:
            self._out.mux(packet)
        except av.error.FFmpegError as exc:
            raise EvidenceError(f"cannot write MP4 {self.path}: {exc}") from exc
        self.packets += 1
        self.bytes_in += packet.size

    def close(self) -> None:
        """Finish the file (trailer written)."""
        try:
            self._out.close()
        except av.error.FFmpegError as exc:
            raise EvidenceError(f"cannot finish MP4 {self.path}: {exc}") from exc
