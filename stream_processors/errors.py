"""Errors of the stream_processors package (rules core, configuration, runtime)."""

from __future__ import annotations

from vidsight.errors import ConfigError, VidsightError


class StreamProcessorError(VidsightError):
    """Root of the stream_processors package's errors."""


class SensorConfigError(StreamProcessorError, ConfigError):
    """A sensor definition is invalid; the message names the sensor, the field and the reason.

    ``source`` and ``line`` say where the definition came from (a YAML file and line, or a
    topic/partition/offset) when the caller knows it, so the user can go straight to it.
    """

    def __init__(
        self,
        sensor_id: str | None,
        field: str,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
    ) -> None:
        self.sensor_id = sensor_id
        self.field = field
        self.reason = reason
        self.source = source
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.source is not None:
            where = f"{self.source}:{self.line}: " if self.line is not None else f"{self.source}: "
        who = f"sensor {self.sensor_id!r}: " if self.sensor_id else ""
        return f"{where}{who}{self.field}: {self.reason}"


class OptionsError(StreamProcessorError, ConfigError):
    """An engine option is out of range; the message names the option."""


class SnapshotError(StreamProcessorError):
    """Saved per-camera state cannot be restored (corrupt bytes or an unknown format)."""


class BacktestError(StreamProcessorError):
    """A backtest cannot read what it replays (archive, topics) or was asked too much."""


class FeedbackError(StreamProcessorError):
    """An operator verdict cannot be given (unknown alert, bad option)."""
