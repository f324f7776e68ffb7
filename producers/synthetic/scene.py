"""A deterministic synthetic scene and its ground truth.

Objects of a few labels cross the frame horizontally, each in its own lane, entering at
staggered times from the left or right edge at a constant speed. Everything derives from the
seed and the object's index, so any object, box or crossing can be computed for any time
without simulating what came before (random access), and two runs with the same seed agree
exactly.

Geometry uses the same convention as ``DetectedObject.bbox``: normalised corners, x right,
y down, clipped to the frame. Lane reuse is spaced so that an object has left the frame
before the next one enters its lane: objects never overlap, which keeps the motion detector's
blobs one-per-object and the ground truth unambiguous.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from schemas.records import BBox, CrossingDirection, Point

# Normalised (width, height) and speed range in frame widths per second, per label.
LABEL_SHAPES: dict[str, tuple[float, float]] = {
    "person": (0.04, 0.13),
    "bicycle": (0.07, 0.10),
    "car": (0.13, 0.09),
    "truck": (0.18, 0.12),
}
LABEL_SPEEDS: dict[str, tuple[float, float]] = {
    "person": (0.08, 0.14),
    "bicycle": (0.12, 0.2),
    "car": (0.15, 0.3),
    "truck": (0.12, 0.2),
}


LANE_GAP = 0.015
"""Least vertical gap between objects of neighbouring lanes (normalised)."""


@dataclass(frozen=True, slots=True)
class Line:
    """A named tripwire segment P0 -> P1 (side a: cross(P1 - P0, p - P0) > 0)."""

    name: str
    p0: Point
    p1: Point


CENTRE_LINE = Line("centre", Point(0.5, 0.0), Point(0.5, 1.0))
"""The default line of every scene: left half is side a, so left-to-right is a_to_b."""


@dataclass(frozen=True, slots=True)
class TruthBox:
    """One object visible on one frame."""

    object_id: int
    label: str
    bbox: BBox


@dataclass(frozen=True, slots=True)
class Crossing:
    """An object's anchor (bottom centre) crossing a line at scene time ``t_s``."""

    object_id: int
    label: str
    line: str
    t_s: float
    direction: CrossingDirection


@dataclass(frozen=True, slots=True)
class SceneObject:
    """One object: moves along y = ``bottom`` (its box's bottom edge) at ``vx`` widths/s."""

    object_id: int
    label: str
    width: float
    height: float
    bottom: float
    vx: float
    t_enter: float

    @property
    def duration(self) -> float:
        """Seconds from touching one edge to leaving past the other."""
        return (1.0 + self.width) / abs(self.vx)

    @property
    def t_exit(self) -> float:
        """Scene time the object has fully left the frame."""
        return self.t_enter + self.duration

    def left_at(self, t: float) -> float:
        """Unclipped left edge at scene time ``t``."""
        x0 = -self.width if self.vx > 0 else 1.0
        return x0 + self.vx * (t - self.t_enter)

    def bbox_at(self, t: float) -> BBox | None:
        """The visible (clipped) box at ``t``, or None when the object is not in the frame."""
        if not self.t_enter < t < self.t_exit:
            return None
        x1 = self.left_at(t)
        box = BBox(
            max(0.0, x1),
            max(0.0, self.bottom - self.height),
            min(1.0, x1 + self.width),
            min(1.0, self.bottom),
        )
        return box if box.x2 > box.x1 and box.y2 > box.y1 else None

    def anchor_at(self, t: float) -> Point:
        """Unclipped bottom centre at ``t``."""
        return Point(self.left_at(t) + self.width / 2, self.bottom)


@dataclass(frozen=True, slots=True)
class Flicker:
    """A nuisance: a light that comes on at a fixed place for ``on_s`` seconds every
    ``period_s`` seconds, first at ``offset_s``. A motion detector reports it; it is no
    object, so it is not in the ground truth (the ``ground_truth`` detector never sees it)."""

    box: BBox
    period_s: float = 6.0
    on_s: float = 1.0
    offset_s: float = 3.0

    def __post_init__(self) -> None:
        b = self.box
        if not (0.0 <= b.x1 < b.x2 <= 1.0 and 0.0 <= b.y1 < b.y2 <= 1.0):
            raise ValueError(f"flicker box must be normalised corners x1 < x2, y1 < y2: {b}")
        if not 0.0 < self.on_s < self.period_s or self.offset_s < 0:
            raise ValueError("flicker needs 0 < on_s < period_s and offset_s >= 0")

    def is_on(self, t: float) -> bool:
        """Whether the light is on at scene time ``t``."""
        return t >= self.offset_s and (t - self.offset_s) % self.period_s < self.on_s

    def onsets(self, t0: float, t1: float) -> list[float]:
        """Scene times in [t0, t1) the light comes on."""
        first = max(0, math.ceil((t0 - self.offset_s) / self.period_s))
        out = []
        k = first
        while (t := self.offset_s + k * self.period_s) < t1:
            out.append(t)
            k += 1
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SceneSpec:
    """Parameters of a crossing scene."""

    seed: int = 0
    lanes: int = 5
    spawn_interval_s: float = 2.0
    labels: tuple[str, ...] = ("person", "car", "bicycle", "truck")
    speed_scale: float = 1.0
    top: float = 0.22
    bottom: float = 0.97
    flicker: Flicker | None = None

    def __post_init__(self) -> None:
        unknown = [lb for lb in self.labels if lb not in LABEL_SHAPES]
        if unknown or not self.labels:
            raise ValueError(f"labels must be among {sorted(LABEL_SHAPES)}, got {self.labels}")
        if self.lanes < 1 or self.spawn_interval_s <= 0 or self.speed_scale <= 0:
            raise ValueError("lanes, spawn_interval_s and speed_scale must be positive")
        tallest = max(LABEL_SHAPES[lb][1] for lb in self.labels)
        if (self.bottom - self.top) / self.lanes < tallest + LANE_GAP:
            raise ValueError(f"{self.lanes} lanes do not fit objects {tallest} high")


class Scene:
    """The infinite, deterministic scene of a ``SceneSpec``; times are scene seconds from 0."""

    def __init__(self, spec: SceneSpec | None = None, lines: Sequence[Line] = (CENTRE_LINE,)):
        self.spec = spec or SceneSpec()
        self.lines = tuple(lines)
        s = self.spec
        slowest = min(LABEL_SPEEDS[lb][0] for lb in s.labels) * s.speed_scale
        widest = max(LABEL_SHAPES[lb][0] for lb in s.labels)
        self.max_duration = (1.0 + widest) / slowest
        # A lane is reused every `lanes` spawns; stretch the interval if the slowest object
        # would still be on screen when the next one enters its lane.
        self.interval = max(s.spawn_interval_s, self.max_duration / s.lanes * 1.05)
        self._lane_h = (s.bottom - s.top) / s.lanes

    def object(self, index: int) -> SceneObject:
        """Object number ``index`` (0, 1, ...); its id is ``index + 1``."""
        s = self.spec
        rng = np.random.default_rng([s.seed, index])
        label = s.labels[int(rng.integers(len(s.labels)))]
        w, h = LABEL_SHAPES[label]
        lo, hi = LABEL_SPEEDS[label]
        speed = float(rng.uniform(lo, hi)) * s.speed_scale
        direction = 1.0 if rng.random() < 0.5 else -1.0
        lane = index % s.lanes
        # Objects sit in their lane with a clear gap to the next lane's (blobs never touch).
        slack = max(0.0, self._lane_h - h - LANE_GAP)
        bottom = s.top + (lane + 1) * self._lane_h - float(rng.uniform(0, slack))
        return SceneObject(
            object_id=index + 1,
            label=label,
            width=w,
            height=h,
            bottom=bottom,
            vx=direction * speed,
            t_enter=index * self.interval,
        )

    def objects_between(self, t0: float, t1: float) -> Iterator[SceneObject]:
        """Objects that are in the frame at some time in [t0, t1]."""
        first = max(0, math.floor((t0 - self.max_duration) / self.interval))
        last = math.floor(t1 / self.interval)
        for index in range(first, last + 1):
            obj = self.object(index)
            if obj.t_exit > t0 and obj.t_enter < t1:
                yield obj

    def truth_at(self, t: float) -> tuple[TruthBox, ...]:
        """Ground truth of the frame at scene time ``t``, ordered by object id."""
        out = []
        for obj in self.objects_between(t, t):
            box = obj.bbox_at(t)
            if box is not None:
                out.append(TruthBox(obj.object_id, obj.label, box))
        return tuple(out)

    def lights_at(self, t: float) -> tuple[BBox, ...]:
        """Nuisance light boxes lit at scene time ``t`` (drawn, but not ground truth)."""
        f = self.spec.flicker
        return (f.box,) if f is not None and f.is_on(t) else ()

    def crossings(self, t0: float, t1: float, line: Line = CENTRE_LINE) -> list[Crossing]:
        """Anchor crossings of ``line`` with ``t0 <= t < t1``, in time order."""
        found = []
        for obj in self.objects_between(t0, t1):
            hit = crossing_of(obj, line)
            if hit is not None and t0 <= hit.t_s < t1:
                found.append(hit)
        found.sort(key=lambda c: (c.t_s, c.object_id))
        return found


def side(line: Line, p: Point) -> float:
    """cross(P1 - P0, p - P0): positive on side a, negative on side b."""
    dx, dy = line.p1.x - line.p0.x, line.p1.y - line.p0.y
    return dx * (p.y - line.p0.y) - dy * (p.x - line.p0.x)


def crossing_of(obj: SceneObject, line: Line) -> Crossing | None:
    """When the object's anchor crosses the line segment while on screen, if it does."""
    # The anchor moves linearly, so side(t) = s0 + s1 * (t - t_enter) is linear too.
    s0 = side(line, obj.anchor_at(obj.t_enter))
    s1 = side(line, obj.anchor_at(obj.t_enter + 1.0)) - s0
    if s1 == 0:
        return None
    t = obj.t_enter - s0 / s1
    if not obj.t_enter < t < obj.t_exit:
        return None
    p = obj.anchor_at(t)
    dx, dy = line.p1.x - line.p0.x, line.p1.y - line.p0.y
    u = ((p.x - line.p0.x) * dx + (p.y - line.p0.y) * dy) / (dx * dx + dy * dy)
    if not 0.0 <= u <= 1.0:
        return None
    direction = CrossingDirection.A_TO_B if s1 < 0 else CrossingDirection.B_TO_A
    return Crossing(obj.object_id, obj.label, line.name, t, direction)
