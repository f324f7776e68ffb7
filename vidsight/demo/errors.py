"""The demo's error."""

from __future__ import annotations

from vidsight.errors import VidsightError


class DemoError(VidsightError):
    """A demo stage did not produce what it should have (the message names the stage)."""
