"""HTTP(S) JPEG snapshot polling: one GET per analysis period.

Many cameras expose ``/snapshot.jpg``-style URLs; polling them at the analysis rate decodes
exactly the frames that are analysed. Failures (connection errors, non-200 answers, bodies
that are not images) back off like a dropped RTSP stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx

from producers.credentials import Login
from producers.errors import SourceError
from producers.frames import Frame, Image
from producers.imaging import decode_image
from producers.sources.base import SourceContext, redact
from schemas.records import now_micros
from vidsight.kafka.backoff import Retry

log = logging.getLogger(__name__)


class HttpSnapshotSource:
    """Polls a snapshot URL; event time is when the answer arrived."""

    finite = False

    def __init__(self, url: str, ctx: SourceContext, login: Login | None = None) -> None:
        self.url = url
        self.ctx = ctx
        self.login = login
        self.description = f"http {redact(url)}"

    def frames(self) -> Iterator[Frame]:
        """One frame per poll until stopped."""
        ctx = self.ctx
        period = 1.0 / ctx.fps
        backoff = Retry(ctx.backoff)
        origin = time.monotonic()
        timeout = httpx.Timeout(ctx.read_timeout_s, connect=ctx.open_timeout_s)
        # HTTP Basic from the resolved login: the URL itself stays without credentials.
        auth = (
            None
            if self.login is None
            else httpx.BasicAuth(self.login.username, self.login.password)
        )
        with httpx.Client(timeout=timeout, follow_redirects=True, auth=auth) as client:
            next_poll = origin
            while not ctx.stop.is_set():
                delay = next_poll - time.monotonic()
                if delay > 0 and ctx.stop.wait(delay):
                    return
                next_poll = max(next_poll + period, time.monotonic())
                try:
                    image = self._fetch(client)
                except SourceError as exc:
                    if backoff.exhausted:
                        raise SourceError(
                            f"{self.description}: gave up after {backoff.attempts} failed "
                            f"attempts: {exc}"
                        ) from exc
                    wait = backoff.next_delay()
                    ctx.on_reconnect(f"{exc}; retry {backoff.attempts} in {wait:.1f}s")
                    if ctx.stop.wait(wait):
                        return
                    next_poll = time.monotonic()
                    continue
                if backoff.attempts:
                    ctx.on_connected(self.description)
                    backoff.reset()
                h, w = image.shape[:2]
                yield Frame(
                    ts_us=now_micros(),
                    pts_s=time.monotonic() - origin,
                    width=w,
                    height=h,
                    keyframe=True,
                    bgr=image,
                )

    def _fetch(self, client: httpx.Client) -> Image:
        try:
            response = client.get(self.url)
        except httpx.HTTPError as exc:
            reason = redact(str(exc))
            if self.login is not None:
                reason = self.login.scrub(reason)
            raise SourceError(f"{self.description}: {type(exc).__name__}: {reason}") from None
        if response.status_code != 200:
            raise SourceError(f"{self.description}: HTTP {response.status_code}")
        image = decode_image(response.content)
        if image is None:
            raise SourceError(f"{self.description}: the answer is not an image")
        return image
