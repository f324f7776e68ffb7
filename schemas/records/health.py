"""Typed record of the health topic: heartbeats of edge nodes and their cameras."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from schemas.records.mapping import AvroMapped

NODE_KEY_PREFIX = "node:"
"""Key prefix of a node's own heartbeats on vidsight.health (cameras use their id)."""


class HealthState(StrEnum):
    """What a camera (or node) is doing."""

    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(AvroMapped):
    """One node's or camera's health at ``ts`` (keyword-only fields)."""

    SCHEMA: ClassVar[str] = "Heartbeat"

    heartbeat_id: str
    node_id: str
    site: str | None = None
    camera_id: str | None = None
    state: HealthState
    configured_fps: float | None = None
    decoded_fps: float = 0.0
    analysed_fps: float = 0.0
    frames_decoded: int = 0
    frames_analysed: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    last_frame_ts: int | None = None
    detector_latency_ms: float | None = None
    spool_depth: int | None = None
    spool_evictions: int | None = None
    evidence_backlog: int | None = None
    error: str | None = None
    interval_s: float
    ts: int

    @property
    def key(self) -> str:
        """The Kafka key: the camera id, or ``node:<node_id>`` for a node's own heartbeat."""
        return self.camera_id if self.camera_id is not None else node_key(self.node_id)


def node_key(node_id: str) -> str:
    """Key (and alert camera id) of a node's own heartbeats."""
    return NODE_KEY_PREFIX + node_id
