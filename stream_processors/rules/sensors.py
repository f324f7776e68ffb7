"""Compiling sensor definitions into rules (one class per sensor kind)."""

from __future__ import annotations

from schemas.records import SensorConfig, SensorKind
from stream_processors.rules.base import AoiRule, Rule, RuleContext
from stream_processors.rules.options import EngineOptions
from stream_processors.rules.tripwire import TripwireRule
from stream_processors.rules.zone import LoiterRule, ZoneRule

__all__ = [
    "AoiRule",
    "LoiterRule",
    "Rule",
    "RuleContext",
    "TripwireRule",
    "ZoneRule",
    "compile_rule",
]


_RULES: dict[SensorKind, type[Rule]] = {
    SensorKind.ZONE: ZoneRule,
    SensorKind.LOITERING: LoiterRule,
    SensorKind.TRIPWIRE: TripwireRule,
    SensorKind.AOI: AoiRule,
}


def compile_rule(cfg: SensorConfig, opts: EngineOptions) -> Rule:
    """Compile a validated sensor definition."""
    return _RULES[cfg.kind](cfg, opts)
