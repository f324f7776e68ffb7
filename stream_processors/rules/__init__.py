"""The pure rules core: sensors, time grouping, false-positive filtering, per-camera state.

No Kafka, no I/O, no wall clock: the runtime feeds records to an :class:`Engine` and
publishes what it returns. See ``engine.py`` for the API and DESIGN.md "Stream processing".
"""

from stream_processors.rules.engine import Engine, Output
from stream_processors.rules.options import EngineOptions, SuppressionCounters
from stream_processors.rules.validate import check_sensor

__all__ = ["Engine", "EngineOptions", "Output", "SuppressionCounters", "check_sensor"]
