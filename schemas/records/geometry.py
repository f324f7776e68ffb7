"""Normalised image geometry shared by several schemas: x right, y down, both 0..1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class BBox:
    """Axis-aligned box as normalised corners: (x1, y1) top-left, (x2, y2) bottom-right.

    Corners rather than x/y/w/h because IoU, containment and the bottom-centre anchor all
    read straight off them.
    """

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def area(self) -> float:
        """Area as a fraction of the frame."""
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    @property
    def anchor(self) -> Point:
        """Bottom-centre: where an object touches the ground, the point rules test."""
        return Point((self.x1 + self.x2) / 2.0, self.y2)

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {"x1": self.x1, "y1": self.y1, "x2": self.x2, "y2": self.y2}

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> BBox:
        """Build from an Avro datum."""
        return cls(data["x1"], data["y1"], data["x2"], data["y2"])


@dataclass(frozen=True, slots=True)
class Point:
    """A normalised image point."""

    x: float
    y: float

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {"x": self.x, "y": self.y}

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Point:
        """Build from an Avro datum."""
        return cls(data["x"], data["y"])
