"""PyAV decoding shared by the file and RTSP sources.

Only what the sampler needs is decoded: once the stream's keyframes come at least as often
as the analysis rate (``KeyframePolicy``), non-key packets are not even sent to the decoder
(and the decoder is told to skip non-key frames). Switching happens only at keyframes, so a
return to full decoding never starts on a frame whose references were skipped. Pixels stay
in the decoder's frame until asked for: the luma plane is a view of it (free for YUV), the
BGR conversion runs only for frames that need it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import av.error
import numpy as np

from producers.errors import SourceError
from producers.frames import Frame, Image
from producers.sampling import KeyframePolicy
from producers.sources.backoff import StallDetector
from producers.sources.base import PacketTap
from vidsight.redact import redact_url

log = logging.getLogger(__name__)

_YUV_PLANAR = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"}
MAX_CONSECUTIVE_DECODE_ERRORS = 50


def open_input(
    url: str,
    *,
    options: dict[str, str] | None = None,
    timeout: tuple[float, float] | None = None,
    scrub: Callable[[str], str] = redact_url,
) -> Any:
    """An opened PyAV input container; SourceError (naming the URL) when it cannot be.

    FFmpeg's messages repeat the URL it was given, login included, so the message and the
    URL go through ``scrub`` and the library error is not chained (its text holds the URL).
    """
    try:
        return av.open(url, mode="r", options=options or {}, timeout=timeout)
    except av.error.FFmpegError as exc:
        reason = scrub(redact_url(str(exc.strerror or exc)))
        raise SourceError(f"cannot open {scrub(redact_url(url))}: {reason}") from None
    except OSError as exc:
        raise SourceError(f"cannot open {scrub(redact_url(url))}: {scrub(str(exc))}") from None


def _luma_loader(frame: av.VideoFrame) -> Callable[[], Image]:
    def load() -> Image:
        if frame.format.name in _YUV_PLANAR:
            plane = frame.planes[0]
            rows = np.frombuffer(memoryview(plane), np.uint8)
            return rows.reshape(plane.height, plane.line_size)[:, : plane.width]
        return np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)

    return load


def _bgr_loader(frame: av.VideoFrame) -> Callable[[], Image]:
    def load() -> Image:
        return np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)

    return load


def decode_video(
    container: Any,
    *,
    fps: float,
    threads: int = 1,
    keyframe_only: bool = True,
    clock: Callable[[float], int],
    pts_offset: float = 0.0,
    description: str = "",
    stall: StallDetector | None = None,
    tap: PacketTap | None = None,
    on_decode_error: Callable[[str], None] | None = None,
) -> Iterator[Frame]:
    """Frames of the first video stream; ``clock`` maps presentation seconds to event time.

    ``pts_s`` of the frames starts at ``pts_offset`` (the stream's first timestamp is
    subtracted), so loops and reconnects can keep it monotonic. With ``stall``, a stream whose
    packets keep coming but no frame decodes for the stall timeout raises a retriable
    ``SourceError``. With ``tap``, every packet (keyframe-only decoding skips some for the
    decoder, not for the tap) is handed over before decoding, with its event time on the
    frames' clock; the first packet's time then also fixes the frames' time origin.
    ``on_decode_error`` is told of every packet that could not be decoded (health counts).
    """
    if not container.streams.video:
        raise SourceError(f"{description}: no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    ctx.thread_count = threads
    if threads != 1:
        ctx.thread_type = "AUTO"
    time_base = float(stream.time_base) if stream.time_base else 1 / 90000
    policy = KeyframePolicy(fps, enabled=keyframe_only)
    skipping = False
    first: float | None = None
    errors = 0
    if tap is not None:
        tap.start(stream)
    try:
        for packet in container.demux(stream):
            if stall is not None:
                now = time.monotonic()
                if stall.stalled(now):
                    raise SourceError(
                        f"{description}: stalled, no frame for {stall.idle_s(now):.1f}s",
                        retriable=True,
                    )
            if tap is not None and packet.size:
                t = packet.pts if packet.pts is not None else packet.dts
                ts_us = None
                if t is not None:
                    if first is None:
                        first = t * time_base
                    ts_us = clock(t * time_base - first + pts_offset)
                tap.packet(packet, ts_us)
            if packet.is_keyframe and packet.pts is not None:
                policy.observe_keyframe(packet.pts * time_base)
                if policy.keyframes_only != skipping:
                    skipping = policy.keyframes_only
                    ctx.skip_frame = "NONKEY" if skipping else "DEFAULT"
                    log.debug("%s keyframe-only decoding=%s", description, skipping)
            elif skipping and packet.size:
                continue
            try:
                decoded = packet.decode()
                errors = 0
            except av.error.InvalidDataError as exc:
                errors += 1
                if on_decode_error is not None:
                    on_decode_error(str(exc))
                if errors > MAX_CONSECUTIVE_DECODE_ERRORS:
                    raise SourceError(
                        f"{description}: {errors} undecodable packets in a row: {exc}"
                    ) from exc
                continue
            for vf in decoded:
                if vf.pts is None:
                    continue
                if stall is not None:
                    stall.progress(time.monotonic())
                pts = vf.pts * time_base
                if first is None:
                    first = pts
                pts_s = pts - first + pts_offset
                yield Frame(
                    ts_us=clock(pts_s),
                    pts_s=pts_s,
                    width=vf.width,
                    height=vf.height,
                    keyframe=vf.key_frame,
                    bgr=_bgr_loader(vf),
                    luma=_luma_loader(vf),
                )
    except av.error.FFmpegError as exc:
        if isinstance(exc, av.error.ExitError):
            raise SourceError(f"{description}: read timed out", retriable=True) from exc
        raise SourceError(f"{description}: {exc.strerror or exc}", retriable=True) from exc
    finally:
        if tap is not None:
            tap.end()
