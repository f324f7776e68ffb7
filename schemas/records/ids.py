"""Deterministic ids: UUIDv5 over the identifying fields of an event.

A replay or a redelivery of the same input produces the same ids, so every sink can upsert
and stay idempotent.

The name hashed is ``<kind>`` followed by the fields, each as ``str()`` (None as the empty
string, ints in decimal) with ``\\`` escaped as ``\\\\`` and the ASCII unit separator
``\\x1f`` as ``\\u001f``, joined with ``\\x1f``, under ``VIDSIGHT_NAMESPACE``. The escaping
keeps the name unambiguous whatever users put in their ids (``("a", "\\x1fb")`` and
``("a\\x1f", "b")`` differ); any language can recompute an id from this description.
"""

from __future__ import annotations

import uuid

VIDSIGHT_NAMESPACE = uuid.UUID("0c1b6a4e-6f5b-5b2a-9c3e-2f7d8e9a1b4c")
"""UUIDv5 namespace of every vidsight id. A fixed random-looking constant: never change it,
every id ever issued depends on it."""

_SEP = "\x1f"


def _escape(part: object) -> str:
    text = "" if part is None else str(part)
    if "\\" in text or _SEP in text:  # rare: keep the common case a plain join
        text = text.replace("\\", "\\\\").replace(_SEP, "\\u001f")
    return text


def _uuid5(kind: str, *parts: object) -> str:
    name = _SEP.join([kind, *(_escape(p) for p in parts)])
    return str(uuid.uuid5(VIDSIGHT_NAMESPACE, name))


def frame_event_id(camera_id: str, frame_ts_us: int, seq: int) -> str:
    """Id of the FrameRef of one sampled frame."""
    return _uuid5("frame", camera_id, frame_ts_us, seq)


def detections_event_id(camera_id: str, frame_ts_us: int, seq: int) -> str:
    """Id of the Detections of one analysed frame."""
    return _uuid5("detections", camera_id, frame_ts_us, seq)


def sensor_event_id(
    camera_id: str,
    sensor_id: str,
    kind: str,
    ts_us: int,
    track_id: int | None,
    *,
    direction: str | None = None,
) -> str:
    """Id of one sensor event; kind and direction are their Avro symbols."""
    return _uuid5("sensor-event", camera_id, sensor_id, kind, ts_us, track_id, direction)


def alert_id(camera_id: str, sensor_id: str, start_ts_us: int, group_key: str = "") -> str:
    """Id of one alert: the sensor plus the event time its group started.

    ``group_key`` separates groups a sensor keeps open at the same time (e.g. per label or
    per track); leave it empty when a sensor has one group at a time.
    """
    return _uuid5("alert", camera_id, sensor_id, start_ts_us, group_key)


def feedback_id(alert_id: str, operator: str, ts_us: int) -> str:
    """Id of one operator verdict."""
    return _uuid5("feedback", alert_id, operator, ts_us)


def recording_segment_id(camera_id: str, start_ts_us: int) -> str:
    """Id of the RecordingSegment of a camera that starts at ``start_ts_us``."""
    return _uuid5("recording", camera_id, start_ts_us)


def heartbeat_id(node_id: str, camera_id: str | None, ts_us: int) -> str:
    """Id of the Heartbeat a node sent at ``ts_us`` about a camera (None: about itself)."""
    return _uuid5("heartbeat", node_id, camera_id, ts_us)
