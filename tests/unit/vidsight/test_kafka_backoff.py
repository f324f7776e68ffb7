"""The one retry schedule (pure), its stateful use and the retry helper."""

from __future__ import annotations

import random
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vidsight.kafka.backoff import Backoff, Retry, retry_until_stopped
from vidsight.kafka.errors import StoppedError


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


@given(attempt=st.integers(1, 50), seed=st.integers(0, 2**32))
def test_downward_jitter_never_waits_longer_than_the_base(attempt: int, seed: int) -> None:
    b = Backoff(initial_s=1.0, max_s=10.0, jitter=0.5, jitter_up=0.0)
    delay = b.delay(attempt, rng=random.Random(seed))
    assert b.base(attempt) * 0.5 - 1e-9 <= delay <= b.base(attempt) + 1e-9


def test_retry_counts_attempts_resets_and_gives_up() -> None:
    retry = Retry(Backoff(initial_s=1, max_s=10, jitter=0.0, max_attempts=2))
    assert [retry.next_delay(), retry.next_delay()] == [1, 2]
    assert retry.exhausted
    retry.reset()
    assert not retry.exhausted and retry.next_delay() == 1


def test_retry_until_stopped_retries_then_returns() -> None:
    calls: list[float] = []

    def flaky() -> str:
        if len(calls) < 2:
            calls.append(0)
            raise ConnectionError("down")
        return "up"

    seen: list[tuple[int, float]] = []
    result = retry_until_stopped(
        flaky,
        retry_on=ConnectionError,
        backoff=Backoff(initial_s=0.001, max_s=0.002, jitter=0.0),
        stop=threading.Event(),
        on_retry=lambda attempt, delay, exc: seen.append((attempt, delay)),
    )
    assert result == "up" and seen == [(1, 0.001), (2, 0.002)]


def test_retry_until_stopped_ends_with_stopped_error_when_stopped() -> None:
    stop = threading.Event()
    stop.set()

    def down() -> None:
        raise ConnectionError("down")

    with pytest.raises(StoppedError):
        retry_until_stopped(down, retry_on=ConnectionError, backoff=Backoff(), stop=stop)


def test_other_errors_are_not_retried() -> None:
    def bug() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        retry_until_stopped(
            bug, retry_on=ConnectionError, backoff=Backoff(), stop=threading.Event()
        )
