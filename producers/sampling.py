"""Frame sampling: which decoded frames to analyse, and when decoding keyframes only suffices.

Pure timing logic on presentation times in seconds; the sources feed it and act on it.
"""

from __future__ import annotations

from collections import deque


class Sampler:
    """Keeps frames at ``fps`` by presentation time, independent of the source frame rate.

    A frame is kept when it reaches the next due time (with a tolerance of a tenth of the
    period, so 25 fps sampled at 5 fps keeps exactly every fifth frame despite float error).
    When the source jumps ahead (a gap, a slow keyframe-only stream) the schedule restarts at
    the frame instead of bursting to catch up; when time goes backwards (a reconnect, a loop
    restart) the sampler resets.
    """

    __slots__ = ("_last", "_next_due", "_tolerance", "period")

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.period = 1.0 / fps
        self._tolerance = self.period * 0.1
        self._next_due: float | None = None
        self._last: float | None = None

    def reset(self) -> None:
        """Forget the schedule: the next frame is kept."""
        self._next_due = None
        self._last = None

    def keep(self, pts_s: float) -> bool:
        """True when the frame at ``pts_s`` should be analysed."""
        if self._last is not None and pts_s < self._last - self.period:
            self.reset()
        self._last = pts_s
        due = self._next_due
        if due is None:
            self._next_due = pts_s + self.period
            return True
        if pts_s < due - self._tolerance:
            return False
        nxt = due + self.period
        # Behind by more than a period: restart the grid here rather than keep every frame.
        self._next_due = nxt if pts_s < nxt - self._tolerance else pts_s + self.period
        return True


class KeyframePolicy:
    """Decides whether decoding only keyframes still yields the analysis rate.

    It watches the keyframe flags of demuxed packets (no decoding needed) and allows
    keyframe-only decoding once the last ``window`` keyframe intervals were all at most one
    analysis period. The decoder may switch modes only at a keyframe: the sources ask
    ``keyframes_only`` there, so a switch back to full decoding never starts mid-GOP.
    """

    __slots__ = ("_enabled", "_intervals", "_last_key", "period")

    def __init__(self, fps: float, *, enabled: bool = True, window: int = 3) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.period = 1.0 / fps
        self._enabled = enabled
        self._intervals: deque[float] = deque(maxlen=window)
        self._last_key: float | None = None

    def observe_keyframe(self, pts_s: float) -> None:
        """Record a keyframe packet's presentation time."""
        last = self._last_key
        self._last_key = pts_s
        if last is None:
            return
        interval = pts_s - last
        if interval <= 0:  # a restart or reordering: start measuring again
            self._intervals.clear()
            return
        self._intervals.append(interval)

    def reset(self) -> None:
        """Forget the measured GOP (after a reconnect)."""
        self._intervals.clear()
        self._last_key = None

    @property
    def keyframes_only(self) -> bool:
        """True when keyframes alone come at least as often as the analysis rate needs."""
        if not self._enabled or len(self._intervals) < (self._intervals.maxlen or 1):
            return False
        # 1% slack: a 5-frame GOP at 25 fps is exactly one 5 fps period.
        return max(self._intervals) <= self.period * 1.01
