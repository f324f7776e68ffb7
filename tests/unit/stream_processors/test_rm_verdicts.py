"""False-positive verdicts per camera/sensor from the feedback topic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_rm_helpers import CAM, T0, feedback

from schemas.records import Verdict
from stream_processors.readmodels.verdicts import (
    CameraVerdicts,
    VerdictCounts,
    apply_feedback,
    verdicts_view,
)

FP, TP = Verdict.FALSE_POSITIVE, Verdict.TRUE_POSITIVE


def run(*items: object) -> CameraVerdicts:
    state = CameraVerdicts()
    for offset, fb in enumerate(items):
        state = apply_feedback(state, fb, offset)  # type: ignore[arg-type]
    return state


def test_counts_per_sensor() -> None:
    state = run(feedback(FP, T0), feedback(FP, T0 + 2), feedback(TP, T0 + 1, sensor="zone"))
    assert state.sensors == {
        "line": VerdictCounts(2, 0, T0 + 2),
        "zone": VerdictCounts(0, 1, T0 + 1),
    }


def test_last_ts_is_the_newest_not_the_last() -> None:
    assert run(feedback(FP, T0 + 5), feedback(FP, T0)).sensors["line"].last_ts == T0 + 5


def test_unknown_verdicts_and_redeliveries_change_nothing() -> None:
    state = run(feedback(FP, T0))
    assert apply_feedback(state, feedback(Verdict.UNKNOWN, T0 + 1), 5) is state
    assert apply_feedback(state, feedback(FP, T0), 0) is state


@given(st.lists(st.tuples(st.sampled_from([FP, TP]), st.sampled_from("ab")), max_size=30))
def test_counts_match_the_verdicts(seq: list[tuple[Verdict, str]]) -> None:
    state = run(*(feedback(v, T0 + i, sensor=s) for i, (v, s) in enumerate(seq)))
    for sensor in "ab":
        counts = state.sensors.get(sensor, VerdictCounts())
        assert counts.false_positive == seq.count((FP, sensor))
        assert counts.true_positive == seq.count((TP, sensor))
    assert CameraVerdicts.from_json(state.to_json()) == state


def test_view_totals_and_rate() -> None:
    state = run(feedback(FP, T0), feedback(FP, T0 + 1), feedback(TP, T0 + 2, sensor="zone"))
    view = verdicts_view(CAM, state)
    assert view["sensors"]["line"] == {
        "false_positive": 2,
        "true_positive": 0,
        "false_positive_rate": 1.0,
        "last_ts": T0 + 1,
    }
    assert (view["false_positive"], view["true_positive"]) == (2, 1)
    assert view["false_positive_rate"] == 0.6667 and view["last_ts"] == T0 + 2
    empty = verdicts_view(CAM, None)
    assert empty["sensors"] == {} and empty["false_positive_rate"] is None
