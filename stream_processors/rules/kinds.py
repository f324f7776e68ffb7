"""The sensor kinds, by name: the one place that lists them.

Each kind is a module owning its rule, its validation and the kind-specific SensorConfig
fields it takes (:class:`~stream_processors.rules.base.SensorKindSpec` named ``KIND``).
Adding a kind is that module, its line here, the schema fields its definitions or events
carry, and its tests; validation, the YAML loader and the camera look kinds up here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from schemas.records import SensorConfig, SensorKind
from stream_processors.rules import aoi, loitering, speed, tripwire, video_loss, zone
from stream_processors.rules.base import Rule, SensorKindSpec
from stream_processors.rules.options import EngineOptions

KINDS: tuple[SensorKindSpec, ...] = (
    zone.KIND,
    tripwire.KIND,
    loitering.KIND,
    aoi.KIND,
    speed.KIND,
    video_loss.KIND,
)
"""Every kind a sensor definition may have, in the order messages and docs list them
(count_anomaly is raised by the ETL and node_offline by the liveness watch, never configured;
unknown is what an unreadable kind decodes to)."""

BY_KIND: Mapping[SensorKind, SensorKindSpec] = MappingProxyType({k.kind: k for k in KINDS})

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SensorConfig)}

KIND_FIELDS: Mapping[str, object] = MappingProxyType(
    {name: _DEFAULTS[name] for spec in KINDS for name in spec.fields}
)
"""Kind-specific SensorConfig fields and the default every other kind must leave them at."""


def kind_spec(kind: SensorKind) -> SensorKindSpec | None:
    """The spec of a configurable kind, or None."""
    return BY_KIND.get(kind)


def kinds_taking(field: str) -> tuple[SensorKindSpec, ...]:
    """The kinds whose definitions may set a kind-specific field."""
    return tuple(k for k in KINDS if field in k.fields)


def compile_rule(cfg: SensorConfig, opts: EngineOptions) -> Rule:
    """Compile a validated sensor definition."""
    return BY_KIND[cfg.kind].rule(cfg, opts)
