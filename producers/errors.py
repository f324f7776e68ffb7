"""Errors of the edge producer (sources, detectors, spool, evidence, camera files)."""

from __future__ import annotations

from vidsight.errors import ConfigError, VidsightError


class EdgeError(VidsightError):
    """Root of the edge producer's errors."""


class CameraFileError(ConfigError):
    """A cameras YAML file is invalid; the message names the file, the line and the key."""


class SimulationError(ConfigError):
    """An option of the simulated cameras is invalid; ``option`` names it (e.g. ``size``)."""

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.reason = message


class SourceError(EdgeError):
    """A camera source failed: it could not be opened, or it broke while reading.

    ``retriable`` says whether reconnecting may help (a network stream that dropped) or not
    (a corrupt file, an unsupported URL).
    """

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class DetectorError(EdgeError):
    """A detector plugin could not be built (bad options, unreadable model) or failed."""


class SpoolError(EdgeError):
    """The on-disk spool could not be opened, written or read."""


class EvidenceError(EdgeError):
    """Evidence could not be encoded or stored."""


class ConfigCacheError(EdgeError):
    """The edge's last known camera configuration on disk cannot be written or read."""
