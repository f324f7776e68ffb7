"""Video files (mp4, avi, mkv, anything FFmpeg reads), played once or looped.

URL forms: ``file:///videos/gate.mp4`` or a plain path, with options in the query string:
``loop=true`` plays forever, ``realtime=true`` paces frames to their timestamps (otherwise
as fast as the pipeline goes), ``start=<UTC micros>`` fixes the event time of the first
frame (default: when the file is opened), which makes runs reproducible.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from producers.errors import SourceError
from producers.frames import Frame
from producers.sources.base import SourceContext
from producers.sources.decode import decode_video, open_input
from schemas.records import now_micros

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileOptions:
    """Query options of a file source URL."""

    path: Path
    loop: bool = False
    realtime: bool = False
    start_us: int | None = None


class FileSource:
    """Decodes a file; event time = start + presentation time (continuing across loops)."""

    finite: bool

    def __init__(self, options: FileOptions, ctx: SourceContext) -> None:
        self.options = options
        self.ctx = ctx
        self.description = f"file {options.path}"
        self.finite = not options.loop

    def frames(self) -> Iterator[Frame]:
        """Every decoded frame; loops when asked."""
        opts, ctx = self.options, self.ctx
        if not opts.path.is_file():
            raise SourceError(f"{self.description}: no such file")
        origin_us = opts.start_us if opts.start_us is not None else now_micros()
        wall_origin = time.monotonic()
        offset = 0.0
        plays = 0
        while not ctx.stop.is_set():
            container = open_input(str(opts.path))
            last = offset
            step = 0.04
            count = 0
            try:
                for frame in decode_video(
                    container,
                    fps=ctx.fps,
                    threads=ctx.decoder_threads,
                    keyframe_only=ctx.keyframe_only,
                    clock=lambda pts_s: origin_us + round(pts_s * 1_000_000),
                    pts_offset=offset,
                    description=self.description,
                    tap=ctx.packets,
                    on_decode_error=ctx.on_decode_error,
                ):
                    if ctx.stop.is_set():
                        return
                    if opts.realtime:
                        delay = wall_origin + frame.pts_s - time.monotonic()
                        if delay > 0 and ctx.stop.wait(delay):
                            return
                    if frame.pts_s > last:
                        step = frame.pts_s - last
                    last = frame.pts_s
                    count += 1
                    yield frame
            except SourceError as exc:
                # A file that stops decoding does not get better by retrying.
                exc.retriable = False
                raise
            finally:
                container.close()
            plays += 1
            if not opts.loop:
                return
            if count == 0:
                raise SourceError(f"{self.description}: no decodable frames to loop")
            offset = last + step
            log.debug("file looped camera=%s plays=%d", ctx.camera_id, plays)
