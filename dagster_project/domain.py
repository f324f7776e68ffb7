"""What each domain module of the Dagster project contributes to the one ``Definitions``.

Every domain (``sources``, ``analytics``, ``lake``, ``retention``, ``platform``...) exposes a
``DOMAIN`` built with :class:`Domain`; ``definitions.py`` only concatenates them. Nothing is
registered by importing a module: the lists are plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Domain:
    """Assets, checks, sensors, schedules and jobs of one domain module."""

    assets: Sequence[Any] = field(default_factory=tuple)
    asset_checks: Sequence[Any] = field(default_factory=tuple)
    sensors: Sequence[Any] = field(default_factory=tuple)
    schedules: Sequence[Any] = field(default_factory=tuple)
    jobs: Sequence[Any] = field(default_factory=tuple)
