"""The root of every error vidsight raises on purpose.

Each package has its own ``errors`` module whose classes derive from these, so callers can
catch ``VidsightError`` for "something vidsight detected" without catching programming bugs.
"""

from __future__ import annotations


class VidsightError(Exception):
    """Root of all vidsight errors."""


class ConfigError(VidsightError):
    """A setting or configuration file value is wrong; the message names the key."""
