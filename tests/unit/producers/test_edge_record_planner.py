"""The segment planner: cuts at keyframes, contiguous segments, events-mode pre/post roll."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.recording.planner import SegmentPlanner, Timed
from producers.recording.spec import RecordSpec, recording_key

S = 1_000_000
FRAME = 40_000  # 25 fps


@dataclass
class Seg:
    start: int
    end: int | None = None
    packets: list[int] = field(default_factory=list)


class ListOutput:
    """Collects the planner's decisions."""

    def __init__(self) -> None:
        self.segments: list[Seg] = []

    def open(self, start_us: int) -> None:
        assert not self.segments or self.segments[-1].end is not None, "opened twice"
        self.segments.append(Seg(start_us))

    def write(self, packet: int) -> None:
        assert self.segments and self.segments[-1].end is None, "write outside a segment"
        self.segments[-1].packets.append(packet)

    def close(self, end_us: int) -> None:
        assert self.segments[-1].end is None
        self.segments[-1].end = end_us


def stream(frames: int, gop: int, *, skip: int = 0) -> list[Timed[int]]:
    """Packets numbered by their frame index, a keyframe every ``gop`` frames."""
    return [Timed(i * FRAME, FRAME, i % gop == 0, i) for i in range(skip, frames)]


def run(
    spec: RecordSpec, packets: list[Timed[int]], activity: dict[int, int] | None = None
) -> tuple[list[Seg], SegmentPlanner[int]]:
    out = ListOutput()
    planner: SegmentPlanner[int] = SegmentPlanner(spec, out)
    for p in packets:
        planner.packet(p)
        if activity and p.packet in activity:
            planner.activity(activity[p.packet])
    planner.end()
    return out.segments, planner


def test_continuous_segments_cut_at_the_first_keyframe_after_the_target_length() -> None:
    segments, _ = run(RecordSpec("continuous", segment_s=2.5), stream(250, 25))  # 10 s, 1 s GOP
    assert [(s.start, s.end) for s in segments] == [
        (0, 3 * S),
        (3 * S, 6 * S),
        (6 * S, 9 * S),
        (9 * S, 10 * S),
    ]
    assert [p for s in segments for p in s.packets] == list(range(250))


def test_a_recording_starts_at_the_first_keyframe() -> None:
    segments, planner = run(RecordSpec("continuous"), stream(60, 25, skip=10))
    assert segments[0].start == 25 * FRAME and segments[0].packets[0] == 25
    assert planner.dropped == 15


@given(
    keys=st.lists(st.booleans(), min_size=1, max_size=300),
    segment_s=st.floats(min_value=1, max_value=5),
)
def test_continuous_segments_are_contiguous_and_hold_every_packet(
    keys: list[bool], segment_s: float
) -> None:
    packets = [Timed(i * FRAME, FRAME, k, i) for i, k in enumerate(keys)]
    segments, _ = run(RecordSpec("continuous", segment_s=segment_s), packets)
    if True not in keys:
        assert segments == []
        return
    first = keys.index(True)
    assert [p for s in segments for p in s.packets] == list(range(first, len(keys)))
    for s in segments:
        assert keys[s.packets[0]], "a segment starts at a keyframe"
        assert s.start == s.packets[0] * FRAME
    for a, b in itertools.pairwise(segments):
        assert a.end == b.start, "no gap, no overlap"
        assert a.end is not None and a.end - a.start >= segment_s * S
    assert segments[-1].end == len(keys) * FRAME


def test_events_mode_keeps_pre_and_post_roll_around_a_detection() -> None:
    # 20 s with a 1 s GOP; one detection at t = 10.2 s (frame 255), pre 3 s, post 2 s.
    spec = RecordSpec("events", pre_s=3, post_s=2, segment_s=60)
    segments, _ = run(spec, stream(500, 25), activity={258: 255 * FRAME})
    assert len(segments) == 1
    seg = segments[0]
    # From the last keyframe at or before 7.2 s (7 s) to the first keyframe after 12.2 s (13 s).
    assert (seg.start, seg.end) == (7 * S, 13 * S)
    assert seg.packets == list(range(175, 325))


def test_events_mode_extends_while_detections_continue_and_splits_long_ones() -> None:
    spec = RecordSpec("events", pre_s=1, post_s=1, segment_s=4)
    activity = {i + 2: i * FRAME for i in range(100, 300, 5)}  # 4 s .. 11.8 s
    segments, _ = run(spec, stream(500, 25), activity=activity)
    assert segments[0].start == 3 * S
    assert segments[-1].end == 13 * S  # last detection 11.8 s + 1 s -> keyframe at 13 s
    for a, b in itertools.pairwise(segments):
        assert a.end == b.start
    assert [p for s in segments for p in s.packets] == list(range(75, 325))


def test_events_mode_without_detections_records_nothing() -> None:
    segments, _ = run(RecordSpec("events"), stream(500, 25))
    assert segments == []


def test_two_separate_events_make_two_recordings() -> None:
    spec = RecordSpec("events", pre_s=1, post_s=1, segment_s=60)
    segments, _ = run(spec, stream(750, 25), activity={102: 100 * FRAME, 502: 500 * FRAME})
    assert [(s.start, s.end) for s in segments] == [(3 * S, 6 * S), (19 * S, 22 * S)]


def test_off_is_not_a_planner_mode() -> None:
    with pytest.raises(ValueError, match="off"):
        SegmentPlanner(RecordSpec("off"), ListOutput())


def test_recording_keys_follow_the_design_layout() -> None:
    ts = 1_700_000_000_123_456  # 2023-11-14 22:13:20 UTC
    assert recording_key("gate-1", ts) == f"recordings/gate-1/2023/11/14/22/{ts}.mp4"
