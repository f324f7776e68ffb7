"""Tripwire crossings per event-time day and hour, by direction, with a bounded window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_rm_helpers import CAM, DAY, DAY0, HOUR, T0, crossing, event

from schemas.records import CrossingDirection, SensorEventKind
from stream_processors.readmodels.crossings import (
    CameraCrossings,
    DayCrossings,
    apply_crossing,
    crossings_view,
)

A, B = CrossingDirection.A_TO_B, CrossingDirection.B_TO_A


def run(*events: object, keep_days: int = 2) -> CameraCrossings:
    state = CameraCrossings()
    for offset, ev in enumerate(events):
        state = apply_crossing(state, ev, offset, keep_days=keep_days)  # type: ignore[arg-type]
    return state


def test_counts_by_direction_and_event_hour() -> None:
    state = run(crossing(T0, A), crossing(T0 + 1, A), crossing(T0 + HOUR, B))
    day = state.sensors["line"][DAY0]
    assert (day.a_to_b[22], day.b_to_a[23], sum(day.a_to_b), sum(day.b_to_a)) == (2, 1, 2, 1)
    assert state.newest_day == DAY0 and state.offset == 2


def test_crossing_after_midnight_goes_to_the_next_day() -> None:
    state = run(crossing(T0, A), crossing(T0 + 2 * HOUR, A))  # 22:13 and 00:13
    assert state.sensors["line"][DAY0].a_to_b[22] == 1
    assert state.sensors["line"]["2023-11-15"].a_to_b[0] == 1


def test_other_kinds_and_missing_directions_change_nothing() -> None:
    state = run(crossing(T0, A))
    others = [
        event(SensorEventKind.ZONE_ENTER, T0 + 1),
        event(SensorEventKind.LINE_CROSS, T0 + 1, direction=None),
        event(SensorEventKind.LINE_CROSS, T0 + 1, direction=CrossingDirection.UNKNOWN),
    ]
    for ev in others:
        assert apply_crossing(state, ev, 9, keep_days=2) is state


def test_redelivered_records_are_not_counted_twice() -> None:
    state = run(crossing(T0, A), crossing(T0 + 1, A))
    assert apply_crossing(state, crossing(T0 + 1, A), 1, keep_days=2) is state


def test_old_days_drop_out_of_the_window() -> None:
    state = run(crossing(T0, A), crossing(T0 + DAY, A), keep_days=2)
    assert set(state.sensors["line"]) == {DAY0, "2023-11-15"}
    state = apply_crossing(state, crossing(T0 + 2 * DAY, B, sensor="l2"), 5, keep_days=2)
    assert set(state.sensors["line"]) == {"2023-11-15"}
    assert set(state.sensors["l2"]) == {"2023-11-16"}
    # A crossing for a day already outside the window is ignored.
    assert apply_crossing(state, crossing(T0, A), 6, keep_days=2) is state


def test_a_sensor_with_only_old_days_disappears() -> None:
    state = run(crossing(T0, A), crossing(T0 + 3 * DAY, A, sensor="l2"), keep_days=1)
    assert set(state.sensors) == {"l2"}


def test_a_late_crossing_inside_the_window_is_counted() -> None:
    state = run(crossing(T0 + DAY, A), crossing(T0, B), keep_days=2)
    assert sum(state.sensors["line"][DAY0].b_to_a) == 1
    assert state.newest_day == "2023-11-15"


@given(
    st.lists(
        st.tuples(st.integers(0, 4 * 24 - 1), st.sampled_from([A, B]), st.sampled_from("xy")),
        max_size=40,
    ),
    st.integers(1, 4),
)
def test_counts_equal_the_crossings_inside_the_window(
    seq: list[tuple[int, CrossingDirection, str]], keep_days: int
) -> None:
    events = [crossing(T0 + h * HOUR, d, sensor=s) for h, d, s in seq]
    state = run(*events, keep_days=keep_days)
    # A crossing is counted on arrival when its day is inside the window then, and stays
    # counted when it is inside the final window, which is the stricter of the two.
    final_newest = max((day(h) for h, _, _ in seq), default=0)
    kept = [h for h, _, _ in seq if day(h) > final_newest - keep_days]
    total = sum(
        sum(c.a_to_b) + sum(c.b_to_a) for days in state.sensors.values() for c in days.values()
    )
    assert total == len(kept)
    assert CameraCrossings.from_json(state.to_json()) == state


def day(hours_after_t0: int) -> int:
    return (22 + hours_after_t0) // 24


def test_day_view_and_sensor_view() -> None:
    state = run(crossing(T0, A), crossing(T0 + HOUR, B), crossing(T0, A, sensor="gate"))
    one = crossings_view(CAM, state, DAY0, "line")
    assert (one["a_to_b"], one["b_to_a"], one["total"], one["days"]) == (1, 1, 2, [DAY0])
    assert one["hourly"]["a_to_b"][22] == 1 and one["hourly"]["b_to_a"][23] == 1
    assert len(one["hourly"]["a_to_b"]) == 24
    all_ = crossings_view(CAM, state, DAY0)
    assert list(all_["sensors"]) == ["gate", "line"]
    assert all_["sensors"]["gate"]["total"] == 1
    assert crossings_view(CAM, state, "2023-11-13")["sensors"] == {}
    empty = crossings_view(CAM, None, DAY0, "line")
    assert (empty["total"], empty["days"]) == (0, [])


def test_day_crossings_add() -> None:
    counts = DayCrossings().add(A, 0).add(A, 23).add(B, 5)
    assert (counts.a_to_b[0], counts.a_to_b[23], counts.b_to_a[5]) == (1, 1, 1)
    assert sum(counts.a_to_b) + sum(counts.b_to_a) == 3
