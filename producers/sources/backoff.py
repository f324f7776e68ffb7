"""Reconnect timing: exponential backoff with jitter, and stall detection. Pure logic."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """Delays grow ``initial_s * multiplier**n`` up to ``max_s``; ``max_attempts`` 0 = forever."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_attempts: int = 0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.multiplier < 1:
            raise ValueError("need 0 < initial_s <= max_s and multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")


class Backoff:
    """Successive delays of one reconnect loop.

    Each delay is the exponential step scaled by a random factor in ``[1 - jitter, 1]``, so
    many cameras that lost the same network at once do not reconnect in lockstep.
    """

    def __init__(self, policy: BackoffPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.attempts = 0
        self._rng = rng or random.Random()

    def reset(self) -> None:
        """A connection worked: start from the initial delay again."""
        self.attempts = 0

    @property
    def exhausted(self) -> bool:
        """True when ``max_attempts`` consecutive attempts have failed."""
        return 0 < self.policy.max_attempts <= self.attempts

    def next_delay(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        p = self.policy
        base = min(p.max_s, p.initial_s * p.multiplier**self.attempts)
        self.attempts += 1
        return base * (1.0 - p.jitter * self._rng.random())


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
