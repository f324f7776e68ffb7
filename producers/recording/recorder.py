"""One camera's recorder: the packet tap of its source, cutting, storing and announcing segments.

The source's demux loop hands every packet to ``start``/``packet``/``end`` (the
``PacketTap`` of ``producers.sources.base``) before any decoding, in the camera's thread. A
``SegmentPlanner`` decides the cuts; segments are written to ``<directory>/<start>.mp4.part``
(fragmented MP4, playable if the edge dies mid-segment), then moved into the evidence spool,
which uploads them with their SHA-256 and retries through an S3 outage, and a
``RecordingSegment`` reference is published through the event spool (which survives a broker
outage). Parts left by a crashed run are stored and announced when the camera starts again.

A failure of the recorder (a disk error, a packet the muxer refuses) is logged and counted
and drops the segment being written; it never stops the camera's analysis.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import av.error

from producers.errors import EdgeError, EvidenceError
from producers.evidence import EvidenceRef
from producers.recording.mp4 import CodecInfo, Mp4Writer, codec_info, copy_packet
from producers.recording.planner import SegmentPlanner, Timed
from producers.recording.spec import RecordSpec, recording_key
from schemas.records import RecordingSegment, recording_segment_id

log = logging.getLogger(__name__)

PART = ".mp4.part"


class RecordingStore(Protocol):
    """Where finished segments go (the evidence store: spooled, uploaded, retried)."""

    def put_recording(self, key: str, data: bytes, sha256: str) -> EvidenceRef:
        """Durably queue one MP4 object; its reference is valid once this returns."""
        ...


@dataclass(slots=True)
class RecorderStats:
    """What a camera's recorder did."""

    segments: int = 0
    bytes: int = 0
    errors: int = 0
    recovered: int = 0


class _Open:
    __slots__ = ("path", "start_us", "writer")

    def __init__(self, path: Path, start_us: int, writer: Mp4Writer) -> None:
        self.path = path
        self.start_us = start_us
        self.writer = writer


class CameraRecorder:
    """Records one camera's encoded packets into MP4 segments."""

    def __init__(
        self,
        camera_id: str,
        spec: RecordSpec,
        directory: Path,
        store: RecordingStore,
        publish: Callable[[RecordingSegment], None],
    ) -> None:
        self.camera_id = camera_id
        self.spec = spec
        self.dir = directory
        self.store = store
        self.publish = publish
        self.stats = RecorderStats()
        self._planner: SegmentPlanner[Any] | None = None
        self._stream: Any = None
        self._info: CodecInfo | None = None
        self._tb_us = 0.0
        self._last_ts: int | None = None
        self._open: _Open | None = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvidenceError(
                f"camera {camera_id}: recording directory {directory}: {exc}"
            ) from exc

    # ---- PacketTap ---------------------------------------------------------------------------

    def start(self, stream: Any) -> None:
        """A stream was opened (a file, an RTSP connection): segments start afresh."""
        self._stream = stream
        self._info = codec_info(stream)
        self._tb_us = float(stream.time_base or 0) * 1_000_000 or 1_000_000 / 90_000
        self._last_ts = None
        self._planner = SegmentPlanner(self.spec, self)

    def packet(self, packet: Any, ts_us: int | None) -> None:
        """One demuxed packet (not yet decoded) and its event time, None when it has none."""
        planner = self._planner
        if planner is None:
            return
        duration = round((packet.duration or 0) * self._tb_us)
        if ts_us is None:
            if self._last_ts is None:
                return
            ts_us = self._last_ts + duration
        self._last_ts = ts_us
        try:
            planner.packet(Timed(ts_us, duration, bool(packet.is_keyframe), copy_packet(packet)))
        except EdgeError as exc:
            self._failed(exc)

    def end(self) -> None:
        """The stream ended (end of file, connection lost): the open segment is finished."""
        planner = self._planner
        if planner is None:
            return
        try:
            planner.end()
        except EdgeError as exc:
            self._failed(exc)
        self._planner = None
        self._stream = None

    def activity(self, ts_us: int) -> None:
        """The pipeline found objects in the frame of event time ``ts_us``."""
        if self._planner is not None:
            try:
                self._planner.activity(ts_us)
            except EdgeError as exc:
                self._failed(exc)

    # ---- SegmentOutput -----------------------------------------------------------------------

    def open(self, start_us: int) -> None:
        """Start a segment file."""
        path = self.dir / f"{start_us}{PART}"
        self._open = _Open(path, start_us, Mp4Writer(path, self._stream))

    def write(self, packet: Any) -> None:
        """Mux one packet into the open segment."""
        if self._open is not None:
            self._open.writer.write(packet)

    def close(self, end_us: int) -> None:
        """Finish the open segment, queue it for upload and announce it."""
        current, self._open = self._open, None
        if current is None or self._info is None:
            return
        current.writer.close()
        self._store(current.path, current.start_us, end_us, self._info, current.writer.packets)

    # ---- storing -----------------------------------------------------------------------------

    def _store(self, path: Path, start_us: int, end_us: int, info: CodecInfo, packets: int) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EvidenceError(f"cannot read recorded segment {path}: {exc}") from exc
        digest = hashlib.sha256(data).hexdigest()
        ref = self.store.put_recording(recording_key(self.camera_id, start_us), data, digest)
        self.publish(
            RecordingSegment(
                segment_id=recording_segment_id(self.camera_id, start_us),
                camera_id=self.camera_id,
                start_ts=start_us,
                end_ts=max(end_us, start_us + 1),
                uri=ref.uri,
                bytes=ref.size,
                sha256=ref.sha256,
                codec=info.codec,
                width=info.width,
                height=info.height,
                packets=packets,
                keyframe_start=True,
                mode=self.spec.record_mode,
            )
        )
        path.unlink(missing_ok=True)
        self.stats.segments += 1
        self.stats.bytes += ref.size
        log.debug("camera=%s segment start_us=%d end_us=%d", self.camera_id, start_us, end_us)

    def _failed(self, exc: EdgeError) -> None:
        self.stats.errors += 1
        log.error("camera=%s recording failed, segment dropped: %s", self.camera_id, exc)
        current, self._open = self._open, None
        if current is not None:
            with contextlib.suppress(EvidenceError):
                current.writer.close()
            current.path.unlink(missing_ok=True)
        if self._stream is not None:
            self._planner = SegmentPlanner(self.spec, self)

    def recover(self) -> int:
        """Store and announce the parts a crashed run left (each up to its last fragment)."""
        found = 0
        for path in sorted(self.dir.glob(f"*{PART}")):
            try:
                start_us = int(path.name.removesuffix(PART))
                info, packets, span_us = probe(path)
            except (ValueError, EvidenceError) as exc:
                log.warning(
                    "camera=%s unreadable recording part %s dropped: %s", self.camera_id, path, exc
                )
                path.unlink(missing_ok=True)
                continue
            if packets == 0:
                path.unlink(missing_ok=True)
                continue
            self._store(path, start_us, start_us + span_us, info, packets)
            found += 1
        self.stats.recovered += found
        return found


def probe(path: Path) -> tuple[CodecInfo, int, int]:
    """(codec, packet count, covered microseconds) of an MP4 file, reading packets only."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise EvidenceError(f"{path}: no video stream")
            stream = container.streams.video[0]
            info = codec_info(stream)
            tb = float(stream.time_base or 0)
            packets = 0
            first: float | None = None
            end = 0.0
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                packets += 1
                t = packet.pts if packet.pts is not None else packet.dts
                if t is None:
                    continue
                if first is None:
                    first = t * tb
                end = max(end, (t + (packet.duration or 0)) * tb)
    except av.error.FFmpegError as exc:
        raise EvidenceError(f"{path}: {exc}") from exc
    return info, packets, round((end - (first or 0.0)) * 1_000_000)
