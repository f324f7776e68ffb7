"""The processor's health input: heartbeats in, video_loss and node_offline alerts out.

The worker subscribes to the health topic with its other inputs (co-partitioned by camera)
and hands each heartbeat here. The liveness watch (``rules/liveness.py``) is pure; this is its
adapter: decoding (a bad record goes to the DLQ), the wall clock for its replay guard, the
per-camera policy from the camera's ``video_loss`` sensor, the input offsets to commit, and
its open alerts as changelog state. Its alerts are opened by the loop's clock in ``tick``,
since a silent camera sends nothing that could move event time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from confluent_kafka import TopicPartition as KafkaTopicPartition

from schemas.errors import SerializationError
from schemas.records import Heartbeat, SensorKind, now_micros
from schemas.serde import TopicSerde
from stream_processors.rules import Engine
from stream_processors.rules.grouping import Output
from stream_processors.rules.liveness import (
    STATE_PREFIX,
    LivenessOptions,
    LivenessWatch,
    LossPolicy,
)
from stream_processors.runtime.changelog import State
from vidsight.kafka.dlq import DeadLetterWriter

log = logging.getLogger(__name__)

Decode = Callable[[TopicSerde[Heartbeat], Any], Heartbeat]
"""Decodes one message (waiting out a registry outage), raising SerializationError."""


class HealthInput:
    """Heartbeats of one worker's health partitions through the liveness watch."""

    def __init__(
        self,
        topic: str,
        codec: TopicSerde[Heartbeat],
        engine: Engine,
        options: LivenessOptions,
        *,
        decode: Decode,
        dlq: DeadLetterWriter,
        emit: Callable[[Sequence[Output]], None],
        wall_us: Callable[[], int] = now_micros,
    ) -> None:
        self.topic = topic
        self._codec = codec
        self._engine = engine
        self._decode = decode
        self._dlq = dlq
        self._emit = emit
        self._wall_us = wall_us
        self.watch = LivenessWatch(options, self.policy)
        self.next_offset: dict[int, int] = {}

    def policy(self, camera_id: str) -> LossPolicy | None:
        """A camera's video_loss sensor, if it has one, else the processor's default."""
        for cfg in self._engine.sensors(camera_id):
            if cfg.kind is SensorKind.VIDEO_LOSS:
                if not cfg.enabled or cfg.seconds is None:
                    return None
                return LossPolicy(cfg.sensor_id, cfg.seconds, cfg.severity)
        return self.watch.default_policy(camera_id)

    def on_message(self, msg: Any, partition: int, offset: int, now: float) -> None:
        """One consumed heartbeat (``now``: the loop's clock)."""
        self.next_offset[partition] = offset + 1
        try:
            heartbeat = self._decode(self._codec, msg)
        except SerializationError as exc:
            self._dlq.send_message(exc, msg, stage="processor.health")
            return
        alerts = self.watch.on_heartbeat(heartbeat, partition, now_s=now, wall_us=self._wall_us())
        if alerts:
            self._emit(alerts)

    def tick(self, now: float) -> bool:
        """Open the alerts that are due; True when some were emitted."""
        lost = self.watch.tick(now)
        if lost:
            self._emit(lost)
        return bool(lost)

    def positions(self) -> list[KafkaTopicPartition]:
        """Where to resume each health partition from."""
        return [KafkaTopicPartition(self.topic, p, o) for p, o in sorted(self.next_offset.items())]

    def states(self, owned: set[int]) -> list[State]:
        """Open alerts that opened or ended since the last call, for the changelog partition of
        their health partition (co-partitioned with the inputs, so owned with them)."""
        return [
            (STATE_PREFIX + key, p, data)
            for key, p, data in self.watch.snapshot_dirty()
            if p in owned
        ]

    def restore(self, partition: int, states: dict[str, bytes]) -> dict[str, bytes]:
        """Load the open alerts among a restored partition's states; returns the others."""
        rest: dict[str, bytes] = {}
        for key, data in states.items():
            if not key.startswith(STATE_PREFIX):
                rest[key] = data
                continue
            try:
                self.watch.restore(key.removeprefix(STATE_PREFIX), partition, data)
            except ValueError as exc:
                log.error(
                    "liveness state not restored key=%r partition=%d: %s", key, partition, exc
                )
        return rest

    def drop(self, partitions: Iterable[int]) -> list[int]:
        """Forget revoked health partitions (their state stays in the changelog)."""
        gone = sorted(set(partitions))
        self.watch.release(gone)
        for p in gone:
            self.next_offset.pop(p, None)
        return gone
