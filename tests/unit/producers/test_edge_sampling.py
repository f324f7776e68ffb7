"""Sampling keeps the analysis rate whatever the source rate; keyframe-only when it suffices."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.sampling import KeyframePolicy, Sampler


def kept(sampler: Sampler, times: list[float]) -> list[float]:
    return [t for t in times if sampler.keep(t)]


def test_25fps_sampled_at_5fps_keeps_every_fifth_frame() -> None:
    times = [n / 25 for n in range(250)]
    assert kept(Sampler(5), times) == [n / 25 for n in range(0, 250, 5)]


def test_source_slower_than_target_keeps_every_frame() -> None:
    times = [n / 2 for n in range(20)]
    assert kept(Sampler(5), times) == times


def test_non_divisible_rates_keep_the_average_rate() -> None:
    times = [n / 30 for n in range(30 * 60)]
    assert len(kept(Sampler(7), times)) == pytest.approx(7 * 60, abs=2)


def test_a_gap_restarts_the_schedule_instead_of_bursting() -> None:
    s = Sampler(5)
    assert kept(s, [0.0, 0.04, 0.2]) == [0.0, 0.2]
    # 10 s of nothing, then frames again: keep the first, then every 0.2 s, no catch-up burst.
    assert kept(s, [10.0, 10.04, 10.08, 10.12, 10.16, 10.2]) == [10.0, 10.2]


def test_time_going_backwards_resets() -> None:
    s = Sampler(5)
    assert kept(s, [5.0, 5.2]) == [5.0, 5.2]
    assert s.keep(0.0)


def test_fps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="fps"):
        Sampler(0)


@given(
    source_fps=st.floats(1.0, 120.0),
    target=st.floats(0.2, 30.0),
    jitter=st.lists(st.floats(-0.3, 0.3), min_size=50, max_size=300),
)
def test_never_more_than_the_target_rate(
    source_fps: float, target: float, jitter: list[float]
) -> None:
    step = 1 / source_fps
    times = sorted(max(0.0, (i + j) * step) for i, j in enumerate(jitter))
    out = kept(Sampler(target), times)
    assert out and out[0] == times[0]
    # At most one frame per slot of the 1/target grid (plus the slot the schedule restarts in).
    assert len(out) <= (times[-1] - times[0]) * target * 1.12 + 2


@given(source_fps=st.floats(1.0, 120.0), target=st.floats(0.2, 30.0))
def test_steady_sources_are_sampled_at_min_of_both_rates(source_fps: float, target: float) -> None:
    seconds = 60
    times = [n / source_fps for n in range(int(seconds * source_fps))]
    out = kept(Sampler(target), times)
    expected = seconds * min(source_fps, target)
    assert abs(len(out) - expected) <= max(2, 0.12 * expected)


def test_keyframe_only_once_the_gop_fits_the_period() -> None:
    policy = KeyframePolicy(5.0)  # period 0.2 s
    for k in range(3):
        assert not policy.keyframes_only  # still measuring
        policy.observe_keyframe(k * 0.2)  # GOP 5 at 25 fps
    policy.observe_keyframe(0.6)
    assert policy.keyframes_only


def test_long_gop_needs_full_decoding() -> None:
    policy = KeyframePolicy(5.0)
    for k in range(6):
        policy.observe_keyframe(k * 1.0)  # GOP 25 at 25 fps
    assert not policy.keyframes_only
    slow = KeyframePolicy(1.0)
    for k in range(6):
        slow.observe_keyframe(k * 1.0)
    assert slow.keyframes_only


def test_a_longer_interval_switches_back_and_disabled_never_switches() -> None:
    policy = KeyframePolicy(1.0)
    for k in range(5):
        policy.observe_keyframe(float(k))
    assert policy.keyframes_only
    policy.observe_keyframe(7.0)
    assert not policy.keyframes_only
    off = KeyframePolicy(1.0, enabled=False)
    for k in range(5):
        off.observe_keyframe(float(k))
    assert not off.keyframes_only
    policy.reset()
    assert not policy.keyframes_only
