"""The outage retry schedule (pure)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinks.backoff import Backoff


def test_doubles_from_the_initial_delay_up_to_the_cap() -> None:
    b = Backoff(initial_s=0.5, max_s=4.0, factor=2.0, jitter=0.0)
    assert [b.base(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_huge_attempt_counts_stay_capped() -> None:
    assert Backoff(initial_s=1, max_s=30).base(10_000) == 30


@given(attempt=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_jitter_stays_within_its_band_and_the_cap(attempt: int, seed: int) -> None:
    b = Backoff(initial_s=0.5, max_s=15.0, jitter=0.2)
    delay = b.delay(attempt, rng=random.Random(seed))
    base = b.base(attempt)
    assert base * 0.8 - 1e-9 <= delay <= min(15.0, base * 1.2) + 1e-9


@given(st.integers(1, 100))
def test_base_never_decreases(attempt: int) -> None:
    b = Backoff(initial_s=0.1, max_s=10.0)
    assert b.base(attempt + 1) >= b.base(attempt)


def test_the_stores_hint_wins_when_longer() -> None:
    b = Backoff(initial_s=0.5, max_s=15.0, jitter=0.0)
    assert b.delay(1, retry_after=7.0) == 7.0
    assert b.delay(5, retry_after=0.1) == 8.0


@pytest.mark.parametrize(
    "kwargs",
    [{"initial_s": 0}, {"initial_s": 5, "max_s": 1}, {"factor": 0.5}, {"jitter": 1.0}],
)
def test_invalid_schedules_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        Backoff().base(0)
