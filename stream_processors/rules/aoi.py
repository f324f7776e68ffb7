"""The ``aoi`` sensor kind: an area of interest; objects outside every active one are ignored."""

from __future__ import annotations

from schemas.records import SensorConfig, SensorKind
from stream_processors.rules.base import Rule, SensorKindSpec
from stream_processors.rules.geometry import Polygon, as_coords
from stream_processors.rules.options import EngineOptions
from stream_processors.rules.shapes import check_polygon


class AoiRule(Rule):
    """Area of interest: objects outside every active AOI of a camera are ignored."""

    area_filter = True

    __slots__ = ("poly",)

    def __init__(self, cfg: SensorConfig, opts: EngineOptions) -> None:
        super().__init__(cfg, opts)
        self.poly = Polygon.from_coords(as_coords(cfg.points))

    def admits(self, x: float, y: float) -> bool:
        return self.poly.contains(x, y)


KIND = SensorKindSpec(
    SensorKind.AOI,
    AoiRule,
    check_polygon,
    summary="polygon: only objects inside an area of interest are considered at all",
)
