"""The outbox: encodes a camera's events and appends them to the event spool.

Camera threads call ``publish``; the ``KafkaForwarder`` sends what lands in the spool. The
Avro encoding is the serde's own (``schemas.serde``), done without a registry: the Confluent
header is added at send time, see ``producers.events``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from producers.events import SchemaStash, SpooledEvent, encode_event
from producers.pipeline import FrameOutcome
from producers.spool import Spool
from schemas import catalog
from schemas.records import Detections, FrameRef, Heartbeat, RecordingSegment, now_micros
from schemas.serde import InMemorySchemaResolver, Serde

_HEADER = 5


class EventOutbox:
    """Thread-safe appender of FrameRef and Detections events."""

    def __init__(self, spool: Spool, stash_dir: Path) -> None:
        self.spool = spool
        self.stash = SchemaStash(stash_dir)
        serde = Serde(InMemorySchemaResolver())
        self._frames = serde.topic(catalog.FRAMES, FrameRef)
        self._detections = serde.topic(catalog.DETECTIONS, Detections)
        self._fp_frames = self.stash.add(catalog.schema_text("FrameRef"))
        self._fp_detections = self.stash.add(catalog.schema_text("Detections"))
        self._recordings = serde.topic(catalog.RECORDINGS, RecordingSegment)
        self._fp_recordings = self.stash.add(catalog.schema_text("RecordingSegment"))
        self._health = serde.topic(catalog.HEALTH, Heartbeat)
        self._fp_health = self.stash.add(catalog.schema_text("Heartbeat"))
        self._lock = threading.Lock()
        self.appended = 0

    def publish(self, outcome: FrameOutcome) -> int:
        """Spool the frame's events (FrameRef first); returns how many were spooled."""
        key = outcome.frame.camera_id.encode()
        now = now_micros()
        payloads = [
            encode_event(
                SpooledEvent(
                    catalog.FRAMES,
                    key,
                    self._fp_frames,
                    self._frames.encode(outcome.frame)[_HEADER:],
                    now,
                )
            )
        ]
        if outcome.detections is not None:
            payloads.append(
                encode_event(
                    SpooledEvent(
                        catalog.DETECTIONS,
                        key,
                        self._fp_detections,
                        self._detections.encode(outcome.detections)[_HEADER:],
                        now,
                    )
                )
            )
        # One write keeps a frame's events adjacent in the spool.
        self.spool.append_many(payloads)
        with self._lock:
            self.appended += len(payloads)
        return len(payloads)

    def publish_recording(self, segment: RecordingSegment) -> None:
        """Spool the reference of a recorded segment."""
        event = SpooledEvent(
            catalog.RECORDINGS,
            segment.camera_id.encode(),
            self._fp_recordings,
            self._recordings.encode(segment)[_HEADER:],
            now_micros(),
        )
        self.spool.append(encode_event(event))
        with self._lock:
            self.appended += 1

    def publish_heartbeat(self, heartbeat: Heartbeat) -> None:
        """Spool a heartbeat (key: the camera id, or node:<id> for the node's own)."""
        event = SpooledEvent(
            catalog.HEALTH,
            heartbeat.key.encode(),
            self._fp_health,
            self._health.encode(heartbeat)[_HEADER:],
            now_micros(),
        )
        self.spool.append(encode_event(event))
        with self._lock:
            self.appended += 1
