"""The retry schedule of a store outage: exponential, capped, with jitter (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``attempt`` (1-based): ``initial * factor**(attempt-1)``, capped.

    Full jitter would make a single sink wait near zero half the time; a +-``jitter`` band
    around the exponential delay keeps retries spread across sink instances without that.
    A store's own hint (``retry_after``) wins when it asks for longer.
    """

    initial_s: float = 0.5
    max_s: float = 15.0
    factor: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.factor < 1:
            raise ValueError(f"invalid backoff schedule: {self}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1): {self.jitter}")

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
        """The delay before retry ``attempt``, jittered, never below the store's hint."""
        base = self.base(attempt)
        unit = (rng or random).uniform(-1.0, 1.0)
        jittered = min(self.max_s, max(0.0, base * (1.0 + self.jitter * unit)))
        if retry_after is not None:
            jittered = max(jittered, retry_after)
        return jittered
