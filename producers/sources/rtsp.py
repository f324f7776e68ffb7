"""RTSP cameras through PyAV (FFmpeg) over TCP, reconnecting with backoff and jitter.

A live stream never "ends": end of stream, a read timeout (no packet for
``read_timeout_s``), a stall (packets but no decodable frame for ``stall_timeout_s``) and
connection errors all lead to a reconnect after a jittered exponential delay. The delay
resets once frames flow again. With ``backoff.max_attempts`` set, the source gives up after
that many failed attempts in a row and raises ``SourceError``.

Event time is the wall clock when a frame is decoded: camera clocks and RTP timestamps are
not trustworthy across cameras, the edge's clock is (NTP).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from producers.credentials import Login
from producers.errors import SourceError
from producers.frames import Frame
from producers.sources.backoff import StallDetector
from producers.sources.base import SourceContext, redact
from producers.sources.decode import decode_video, open_input
from schemas.records import now_micros
from schemas.records.credentials import with_login
from vidsight.kafka.backoff import Retry

log = logging.getLogger(__name__)


def _wall_clock(_: float) -> int:
    return now_micros()


class RtspSource:
    """A live RTSP stream."""

    finite = False

    def __init__(self, url: str, ctx: SourceContext, login: Login | None = None) -> None:
        self.url = url
        self.ctx = ctx
        self.login = login
        self.description = f"rtsp {redact(url)}"

    def _scrub(self, text: str) -> str:
        text = redact(text)
        return text if self.login is None else self.login.scrub(text)

    def frames(self) -> Iterator[Frame]:
        """Frames until stopped; reconnects on any stream failure."""
        ctx = self.ctx
        backoff = Retry(ctx.backoff)
        offset = 0.0
        while not ctx.stop.is_set():
            try:
                for frame in self._connection(offset):
                    if backoff.attempts:
                        ctx.on_connected(self.description)
                        backoff.reset()
                    offset = frame.pts_s
                    yield frame
                error = "stream ended"
            except SourceError as exc:
                error = self._scrub(str(exc))
            if ctx.stop.is_set():
                return
            if backoff.exhausted:
                raise SourceError(
                    f"{self.description}: gave up after {backoff.attempts} failed attempts: {error}"
                )
            delay = backoff.next_delay()
            log.warning(
                "camera=%s source=%s error=%r reconnect_attempt=%d in_s=%.1f",
                ctx.camera_id,
                self.description,
                error,
                backoff.attempts,
                delay,
            )
            ctx.on_reconnect(f"{error}; reconnect attempt {backoff.attempts} in {delay:.1f}s")
            if ctx.stop.wait(delay):
                return

    def _connection(self, offset: float) -> Iterator[Frame]:
        ctx = self.ctx
        url = self.url
        if self.login is not None:
            # FFmpeg takes the RTSP login as userinfo (Basic or Digest, as the camera asks);
            # this URL exists only for this call.
            url = with_login(url, self.login.username, self.login.password)
        container = open_input(
            url,
            options={"rtsp_transport": "tcp", "rtsp_flags": "prefer_tcp"},
            timeout=(ctx.open_timeout_s, ctx.read_timeout_s),
            scrub=self._scrub,
        )
        try:
            for frame in decode_video(
                container,
                fps=ctx.fps,
                threads=ctx.decoder_threads,
                keyframe_only=ctx.keyframe_only,
                clock=_wall_clock,
                # Keep pts monotonic across reconnects so the sampler does not restart.
                pts_offset=offset + 1e-3,
                description=self.description,
                stall=StallDetector(ctx.stall_timeout_s, time.monotonic()),
                tap=ctx.packets,
                on_decode_error=ctx.on_decode_error,
            ):
                if ctx.stop.is_set():
                    return
                yield frame
        except SourceError as exc:
            exc.retriable = True
            raise
        finally:
            container.close()
