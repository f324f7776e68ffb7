"""The edge's reconnect schedule (the runtime's one ``Backoff`` with the edge's numbers) and
stall detection. Pure logic.

A reconnect loop counts its attempts with ``vidsight.kafka.backoff.Retry`` over a policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidsight.kafka.backoff import Backoff


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy(Backoff):
    """Delays grow ``initial_s * factor**n`` up to ``max_s``; ``max_attempts`` 0 = forever.

    Each delay is scaled by a random factor in ``[1 - jitter, 1]`` (downwards only), so many
    cameras that lost the same network at once do not reconnect in lockstep.
    """

    max_s: float = 30.0
    jitter: float = 0.5
    jitter_up: float | None = 0.0


class StallDetector:
    """Flags a stream whose frames stopped coming while the connection stays open."""

    __slots__ = ("_last", "timeout_s")

    def __init__(self, timeout_s: float, now: float) -> None:
        self.timeout_s = timeout_s
        self._last = now

    def progress(self, now: float) -> None:
        """A frame arrived."""
        self._last = now

    def stalled(self, now: float) -> bool:
        """True when no frame arrived for ``timeout_s``."""
        return now - self._last > self.timeout_s

    def idle_s(self, now: float) -> float:
        """Seconds since the last frame."""
        return now - self._last
