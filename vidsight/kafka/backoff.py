"""The one retry schedule: exponential, capped, jittered (pure), and a retry helper.

Stores down, a schema registry down, a camera that dropped its stream and a broker that does
not answer all wait the same way; only the numbers differ.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from vidsight.kafka.errors import StoppedError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delay before retry ``attempt`` (1-based): ``initial_s * factor**(attempt-1)``, capped at
    ``max_s``, then scaled by a random factor in ``[1 - jitter, 1 + jitter_up]``.

    The sinks use a +-``jitter`` band (full jitter would make a single sink wait near zero
    half the time; a band keeps retries spread across instances without that); the edge
    jitters downwards only (``jitter_up=0``), so many cameras that lost the same network do
    not reconnect in lockstep. ``max_attempts`` 0 means retry forever.
    """

    initial_s: float = 0.5
    max_s: float = 15.0
    factor: float = 2.0
    jitter: float = 0.2
    jitter_up: float | None = None
    """Upward jitter; None: the same as ``jitter``."""
    max_attempts: int = 0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.factor < 1:
            raise ValueError(
                f"invalid backoff schedule: need 0 < initial_s <= max_s and factor >= 1 ({self})"
            )
        if not 0 <= self.jitter <= 1 or (self.jitter_up is None and self.jitter == 1):
            raise ValueError(
                f"jitter must be in [0, 1) (in [0, 1] with jitter_up set), got {self.jitter}"
            )
        if self.jitter_up is not None and not 0 <= self.jitter_up < 1:
            raise ValueError(f"jitter_up must be in [0, 1), got {self.jitter_up}")
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0 (0: forever), got {self.max_attempts}")

    def base(self, attempt: int) -> float:
        """The delay of an attempt without jitter."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        # Cap the exponent first: factor**attempt overflows a float long before attempts end.
        exponent = min(attempt - 1, 64)
        return min(self.max_s, self.initial_s * self.factor**exponent)

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """The delay before retry ``attempt``, jittered, never below the server's hint."""
        base = self.base(attempt)
        up = self.jitter if self.jitter_up is None else self.jitter_up
        if self.jitter or up:
            scale = 1.0 - self.jitter + (self.jitter + up) * (rng or random).random()
            base = min(self.max_s, max(0.0, base * scale))
        if retry_after is not None:
            base = max(base, retry_after)
        return base

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` consecutive failures used up ``max_attempts``."""
        return 0 < self.max_attempts <= attempts


class Retry:
    """Successive delays of one retry loop over a ``Backoff`` (counts its attempts)."""

    def __init__(self, backoff: Backoff, rng: random.Random | None = None) -> None:
        self.backoff = backoff
        self.attempts = 0
        self._rng = rng or random.Random()

    def reset(self) -> None:
        """It worked: start from the initial delay again."""
        self.attempts = 0

    @property
    def exhausted(self) -> bool:
        """True when ``max_attempts`` consecutive attempts have failed."""
        return self.backoff.exhausted(self.attempts)

    def next_delay(self, *, retry_after: float | None = None) -> float:
        """The delay before the next attempt (and count the attempt)."""
        self.attempts += 1
        return self.backoff.delay(self.attempts, retry_after=retry_after, rng=self._rng)


def retry_until_stopped(
    call: Callable[[], T],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    backoff: Backoff,
    stop: threading.Event,
    on_retry: Callable[[int, float, BaseException], None] | None = None,
) -> T:
    """``call()`` until it does not raise ``retry_on``, waiting the back-off between tries.

    A ``retry_after`` attribute of the error (a server's hint) lengthens the wait. Raises
    :class:`StoppedError` when ``stop`` is set during a wait.
    """
    attempt = 0
    while True:
        try:
            return call()
        except retry_on as exc:
            attempt += 1
            hint = getattr(exc, "retry_after", None)
            retry_after = float(hint) if isinstance(hint, int | float) else None
            delay = backoff.delay(attempt, retry_after=retry_after)
            if on_retry is not None:
                on_retry(attempt, delay, exc)
            if stop.wait(delay):
                raise StoppedError(f"stopped while retrying: {exc}") from exc
