"""The changelog of per-camera rules state: written at checkpoints, read back on assignment.

A camera's state goes to the changelog partition with the number of the input partition the
camera lives on, so a worker given input partition p restores from changelog partition p
alone (Kafka Streams does the same). The topic is compacted: the latest value per camera is
its state, a tombstone means none.

Reading a partition "to its end" cannot use the broker's end offset (the local broker's is
wrong), so a restore first produces a marker record with a fresh nonce to each partition and
reads until it sees its own marker come back: everything written before the marker, i.e.
every checkpoint of the previous owner, has then been read. Markers share one key per
partition, so compaction keeps only the latest.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping

from confluent_kafka import TopicPartition as KafkaTopicPartition

from stream_processors.runtime.errors import RestoreError
from vidsight.kafka.clients import REAL_CLIENTS, ConsumerFactory
from vidsight.kafka.producer import AckingProducer
from vidsight.kafka.reading import FIRST_OFFSET

log = logging.getLogger(__name__)

State = tuple[str, int, bytes | None]
"""One camera's state for the changelog: camera id, partition, snapshot bytes (None: none)."""

MARKER_KEY = b"\x00vidsight.changelog-marker"
"""Key of the end-of-partition markers; no camera id starts with a NUL byte."""


class Changelog:
    """Writes and restores camera state on one changelog topic."""

    def __init__(
        self,
        topic: str,
        producer: AckingProducer,
        consumer_config: Mapping[str, object],
        *,
        timeout_s: float,
        consumer_factory: ConsumerFactory = REAL_CLIENTS.consumer,
    ) -> None:
        self.topic = topic
        self._consumer_factory = consumer_factory
        self._producer = producer
        self._consumer_config = dict(consumer_config)
        self._timeout_s = timeout_s

    def write(self, states: Iterable[State]) -> int:
        """Queue each camera's state (None: tombstone) to its partition; returns how many."""
        n = 0
        for camera_id, partition, data in states:
            self._producer.produce(self.topic, data, camera_id.encode(), partition=partition)
            n += 1
        return n

    def restore(self, partitions: Iterable[int]) -> dict[int, dict[str, bytes]]:
        """The latest state of every camera in the given partitions, by partition."""
        wanted = sorted(set(partitions))
        if not wanted:
            return {}
        nonce = uuid.uuid4().hex.encode()
        for p in wanted:
            self._producer.produce(self.topic, nonce, MARKER_KEY, partition=p)
        self._producer.flush()
        states: dict[int, dict[str, bytes]] = {p: {} for p in wanted}
        pending = set(wanted)
        consumer = self._consumer_factory({**self._consumer_config, "enable.auto.commit": False})
        try:
            consumer.assign([KafkaTopicPartition(self.topic, p, FIRST_OFFSET) for p in wanted])
            deadline = time.monotonic() + self._timeout_s
            while pending:
                if time.monotonic() > deadline:
                    raise RestoreError(
                        f"changelog {self.topic} partitions {sorted(pending)} not read to their "
                        f"end within {self._timeout_s}s"
                    )
                for msg in consumer.consume(1000, 0.1):
                    if msg.error() is not None:
                        log.warning("changelog consume error: %s", msg.error())
                        continue
                    p = msg.partition() or 0
                    if p not in pending:
                        continue
                    key = msg.key()
                    if key == MARKER_KEY:
                        if msg.value() == nonce:
                            pending.discard(p)
                            consumer.pause([KafkaTopicPartition(self.topic, p)])
                        continue
                    if key is None:
                        continue
                    camera_id = key.decode("utf-8", errors="replace")
                    value = msg.value()
                    if value is None:
                        states[p].pop(camera_id, None)
                    else:
                        states[p][camera_id] = value
        finally:
            consumer.close()
        return states
