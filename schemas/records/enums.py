"""Avro enums as ``StrEnum``: members compare equal to their symbol, so they go to fastavro as is.

Every enum ends with ``UNKNOWN``, the Avro enum default: a reader whose schema predates a new
symbol decodes it as ``unknown`` instead of failing, so symbols can be added without breaking
old consumers.
"""

from __future__ import annotations

from enum import StrEnum


class SensorEventKind(StrEnum):
    """What a sensor rule saw."""

    ZONE_ENTER = "zone_enter"
    ZONE_EXIT = "zone_exit"
    LINE_CROSS = "line_cross"
    LOITER = "loiter"
    OCCUPANCY = "occupancy"
    SPEED = "speed"
    # Raised by the processor from the health topic, never by a sensor rule on detections.
    VIDEO_LOSS = "video_loss"
    NODE_OFFLINE = "node_offline"
    UNKNOWN = "unknown"


class CrossingDirection(StrEnum):
    """Direction of a tripwire crossing; side a is where cross(P1 - P0, p - P0) > 0."""

    A_TO_B = "a_to_b"
    B_TO_A = "b_to_a"
    UNKNOWN = "unknown"


class DirectionFilter(StrEnum):
    """Which tripwire crossings a sensor counts."""

    BOTH = "both"
    A_TO_B = "a_to_b"
    B_TO_A = "b_to_a"
    UNKNOWN = "unknown"


class SensorKind(StrEnum):
    """Kind of sensor rule."""

    ZONE = "zone"
    TRIPWIRE = "tripwire"
    LOITERING = "loitering"
    AOI = "aoi"
    # Raised by the ETL (count_anomalies), never configured as a sensor: validation refuses it.
    COUNT_ANOMALY = "count_anomaly"
    SPEED = "speed"
    # A camera's video-loss timeout (sensor kind video_loss: its own ``seconds``), and the
    # rule of node_offline alerts (never configured: validation refuses it).
    VIDEO_LOSS = "video_loss"
    NODE_OFFLINE = "node_offline"
    UNKNOWN = "unknown"


class AlertLifecycle(StrEnum):
    """Lifecycle step of an alert message."""

    NEW = "new"
    UPDATE = "update"
    END = "end"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    """Alert severity."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


class Verdict(StrEnum):
    """Operator verdict on an alert."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    UNKNOWN = "unknown"


class DetectorKind(StrEnum):
    """Detector plugin."""

    MOTION = "motion"
    HOG = "hog"
    ONNX = "onnx"
    # The synthetic scene's own boxes. Published as UNKNOWN + options["plugin"] before it was
    # a symbol: producers.config.from_record still reads those as ground_truth.
    GROUND_TRUTH = "ground_truth"
    UNKNOWN = "unknown"
