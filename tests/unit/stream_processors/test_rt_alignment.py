"""A frame with objects waits for its detections, so every run interleaves the two topics the
same way however they are fetched; frames without objects and detections never wait."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sp_helpers import CAM, T0, frame

from schemas.records import FrameRef
from stream_processors.runtime.alignment import FrameAligner, HeldFrame

S = 1_000_000


def aligner(max_hold_s: float = 5.0, max_held: int = 1000) -> FrameAligner:
    a = FrameAligner(max_hold_s=max_hold_s, max_held=max_held)
    a.assign(0)
    return a


def seen(seq: int, objects: int = 0, camera: str = CAM) -> FrameRef:
    """The frame number ``seq`` (at T0 + seq/5 s), analysed, with ``objects`` objects."""
    return frame(T0 + seq * S // 5, seq=seq, analysed=True, count=objects, camera=camera)


def offsets(held: list[HeldFrame]) -> list[int]:
    return [h.offset for h in held]


def det(a: FrameAligner, seq: int, camera: str = CAM) -> tuple[list[int], list[int]]:
    before, after = a.on_detections(0, camera, T0 + seq * S // 5, seq)
    return offsets(before), offsets(after)


def test_frames_without_objects_never_wait() -> None:
    a = aligner()
    assert offsets(a.on_frame(0, 1, seen(1), now=0.0)) == [1]
    assert offsets(a.on_frame(0, 2, frame(T0, seq=2), now=0.0)) == [2]  # not analysed
    assert a.held == 0


def test_a_frame_with_objects_waits_for_its_detections_and_goes_right_after_them() -> None:
    a = aligner()
    assert a.on_frame(0, 10, seen(1, objects=2), now=0.0) == []
    assert a.on_frame(0, 11, seen(2), now=0.0) == []  # behind it: frames keep their order
    assert a.held == 2 and a.first_held_offset(0) == 10
    assert det(a, 1) == ([], [10, 11])
    assert a.held == 0 and a.first_held_offset(0) is None


def test_frames_of_detections_seen_first_go_at_once() -> None:
    a = aligner()
    assert det(a, 3) == ([], [])
    assert offsets(a.on_frame(0, 5, seen(3, objects=1), now=0.0)) == [5]
    assert a.on_frame(0, 6, seen(4, objects=1), now=0.0) == []


def test_earlier_frames_whose_detections_never_came_go_before_later_detections() -> None:
    a = aligner()
    a.on_frame(0, 1, seen(1, objects=1), now=0.0)  # its detections were dead-lettered
    a.on_frame(0, 2, seen(2), now=0.0)
    a.on_frame(0, 3, seen(3, objects=1), now=0.0)
    assert det(a, 3) == ([1, 2], [3])


def test_cameras_wait_independently() -> None:
    a = aligner()
    a.on_frame(0, 1, seen(1, objects=1), now=0.0)
    assert offsets(a.on_frame(0, 2, seen(1, camera="cam-2"), now=0.0)) == [2]
    a.on_frame(0, 3, seen(2, objects=1, camera="cam-2"), now=0.0)
    assert a.first_held_offset(0) == 1
    assert det(a, 2, camera="cam-2") == ([], [3])
    assert det(a, 1) == ([], [1])


def test_a_frame_waits_at_most_max_hold() -> None:
    a = aligner(max_hold_s=2.0)
    a.on_frame(0, 1, seen(1, objects=1), now=0.0)
    a.on_frame(0, 2, seen(2), now=1.5)
    assert a.due(now=1.9) == []
    assert offsets(a.due(now=2.0)) == [1, 2]  # the one behind it is ready


def test_too_many_waiting_frames_release_the_oldest() -> None:
    a = aligner(max_held=2)
    a.on_frame(0, 1, seen(1, objects=1), now=0.0)
    a.on_frame(0, 2, seen(2, objects=1), now=0.0)
    assert offsets(a.on_frame(0, 3, seen(3, objects=1), now=0.0)) == [1]


def test_revoke_drops_waiting_frames() -> None:
    a = aligner()
    a.on_frame(0, 1, seen(1, objects=1), now=0.0)
    a.revoke(0)
    assert a.held == 0 and a.first_held_offset(0) is None and a.due(now=100.0) == []


# -- whatever the fetch interleaving, the same sequence --------------------------------------

frames_st = st.lists(st.booleans(), min_size=1, max_size=30)  # per frame: has objects?


def applied(has_objects: list[bool], fetches: list[bool]) -> list[tuple[str, int]]:
    """Feed one camera's frames and detections in the interleaving ``fetches`` gives (True:
    the next frame), then the rest; the sequence applied: ("d", seq) and ("f", seq)."""
    a = aligner(max_hold_s=1e9)
    frames = [seen(i, objects=int(o)) for i, o in enumerate(has_objects)]
    dets = [i for i, o in enumerate(has_objects) if o]
    out: list[tuple[str, int]] = []
    f = d = 0
    for take_frame in [*fetches, *([True] * len(frames)), *([False] * len(dets))]:
        if take_frame and f < len(frames):
            out.extend(("f", h.frame.seq) for h in a.on_frame(0, f, frames[f], now=0.0))
            f += 1
        elif not take_frame and d < len(dets):
            before, after = a.on_detections(0, CAM, frames[dets[d]].frame_ts, dets[d])
            out.extend(("f", h.frame.seq) for h in before)
            out.append(("d", dets[d]))
            out.extend(("f", h.frame.seq) for h in after)
            d += 1
    return out


@settings(max_examples=300, deadline=None)
@given(has_objects=frames_st, fetches=st.lists(st.booleans(), max_size=80))
def test_frames_fetched_no_later_than_needed_give_the_event_time_order(
    has_objects: list[bool], fetches: list[bool]
) -> None:
    """Event-time order: each frame right after its own detections (if any), frames in order.
    Whenever frames are fetched ahead of the detections (a replay), that is what comes out;
    a frame fetched after later detections of its camera (which the rules ignore) is the only
    way the order can differ, and it still never precedes its own detections."""
    expected = []
    for i, o in enumerate(has_objects):
        if o:
            expected.append(("d", i))
        expected.append(("f", i))
    assert applied(has_objects, [True] * len(has_objects)) == expected
    out = applied(has_objects, fetches)
    assert sorted(out) == sorted(expected)
    assert [s for k, s in out if k == "f"] == list(range(len(has_objects)))
    for i, o in enumerate(has_objects):
        if o:
            assert out.index(("d", i)) < out.index(("f", i))
