"""Occupancy per zone: the count of the newest occupancy event, nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_rm_helpers import CAM, T0, event, occupancy

from schemas.records import SensorEventKind
from stream_processors.readmodels.occupancy import (
    CameraOccupancy,
    ZoneOccupancy,
    apply_occupancy,
    occupancy_view,
)


def run(*events: object) -> CameraOccupancy:
    state = CameraOccupancy()
    for offset, ev in enumerate(events):
        state = apply_occupancy(state, ev, offset)  # type: ignore[arg-type]
    return state


def test_latest_occupancy_event_wins_per_zone() -> None:
    state = run(occupancy(1, T0), occupancy(3, T0 + 1), occupancy(2, T0 + 2, sensor="other"))
    assert state.zones == {"zone": ZoneOccupancy(3, T0 + 1), "other": ZoneOccupancy(2, T0 + 2)}
    assert state.offset == 2


def test_back_to_zero_is_kept() -> None:
    assert run(occupancy(2, T0), occupancy(0, T0 + 1)).zones["zone"].count == 0


def test_enter_exit_and_other_kinds_change_nothing() -> None:
    state = run(occupancy(1, T0))
    for kind in (SensorEventKind.ZONE_ENTER, SensorEventKind.ZONE_EXIT, SensorEventKind.LOITER):
        assert apply_occupancy(state, event(kind, T0 + 5, sensor="zone"), 10) is state
    no_count = event(SensorEventKind.OCCUPANCY, T0 + 5, sensor="zone", count=None)
    assert apply_occupancy(state, no_count, 10) is state


def test_an_older_event_does_not_overwrite() -> None:
    state = run(occupancy(4, T0 + 10))
    assert apply_occupancy(state, occupancy(1, T0), 5) is state


def test_redelivered_records_are_skipped() -> None:
    state = run(occupancy(1, T0), occupancy(2, T0 + 1))
    assert apply_occupancy(state, occupancy(9, T0 + 9), 1) is state
    assert apply_occupancy(state, occupancy(9, T0 + 9), 2).zones["zone"].count == 9


def test_negative_counts_are_clamped() -> None:
    assert run(occupancy(-1, T0)).zones["zone"].count == 0


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20)), max_size=30))
def test_final_count_is_the_last_event_per_zone(seq: list[tuple[str, int]]) -> None:
    events = [occupancy(count, T0 + i, sensor=zone) for i, (zone, count) in enumerate(seq)]
    state = run(*events)
    expected = dict(seq)  # the last count per zone
    assert {z: o.count for z, o in state.zones.items()} == expected
    # Replaying any prefix (a redelivery after a crash) changes nothing.
    replayed = state
    for offset, ev in enumerate(events):
        replayed = apply_occupancy(replayed, ev, offset)
    assert replayed is state
    assert CameraOccupancy.from_json(state.to_json()) == state


def test_view() -> None:
    state = run(occupancy(2, T0, sensor="b"), occupancy(1, T0, sensor="a"))
    view = occupancy_view(CAM, state)
    assert view == {
        "camera_id": CAM,
        "zones": {"a": {"count": 1, "ts": T0}, "b": {"count": 2, "ts": T0}},
        "total": 3,
    }
    assert list(view["zones"]) == ["a", "b"]
    assert occupancy_view(CAM, None) == {"camera_id": CAM, "zones": {}, "total": 0}
