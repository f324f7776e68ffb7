"""What a source is, and what the camera worker hands it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from producers.frames import Frame
from producers.sources.backoff import BackoffPolicy
from vidsight.redact import redact_url


def _ignore(_: str) -> None:
    return None


class PacketTap(Protocol):
    """Sees every encoded packet of a source before decoding (the recorder)."""

    def start(self, stream: Any) -> None:
        """A video stream was opened (PyAV input stream)."""
        ...

    def packet(self, packet: Any, ts_us: int | None) -> None:
        """One demuxed packet, in decode order, with its event time (None when unknown)."""
        ...

    def end(self) -> None:
        """The stream ended or was lost; ``start`` comes again on a reconnect or loop."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceContext:
    """Per-camera settings and callbacks for a source.

    ``on_reconnect`` is called with the error each time a live source loses its stream and
    is about to retry; ``on_connected`` once frames flow again; ``on_decode_error`` for each
    undecodable packet. ``packets`` (sources with
    encoded video: files, RTSP) sees every packet before decoding.
    """

    camera_id: str
    fps: float
    stop: threading.Event = field(default_factory=threading.Event)
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    stall_timeout_s: float = 15.0
    decoder_threads: int = 1
    keyframe_only: bool = True
    on_reconnect: Callable[[str], None] = _ignore
    on_connected: Callable[[str], None] = _ignore
    on_decode_error: Callable[[str], None] = _ignore
    packets: PacketTap | None = None


class Source(Protocol):
    """Yields frames until the source ends (finite sources) or ``ctx.stop`` is set.

    Raises ``SourceError`` when the source cannot be read at all (a corrupt file, a live
    stream that exhausted its reconnect attempts).
    """

    description: str
    finite: bool

    def frames(self) -> Iterator[Frame]:
        """The frames, in presentation order."""
        ...


def redact(url: str) -> str:
    """A URL with any credential masked, for logs and errors."""
    return redact_url(url)
