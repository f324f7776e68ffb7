"""Errors of the Dagster project's own tooling (``vidsight etl``)."""

from __future__ import annotations

from vidsight.errors import VidsightError


class LaunchError(VidsightError):
    """A run could not be launched or followed on the Dagster instance; the message says why."""
