"""The topics every worker reads whole: sensor definitions and operator feedback.

Sensor definitions are keyed by sensor id and feedback arrives for any camera, so neither is
partitioned with the cameras a worker owns: each worker assigns itself every partition of
both (no consumer group, no committed offsets) and reads them from the beginning at start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from vidsight.kafka.clients import REAL_CLIENTS, KafkaClients, MessageClient
from vidsight.kafka.reading import assign_from_beginning, read_to_end

log = logging.getLogger(__name__)


class GlobalFeed:
    """An assign-all consumer of small topics, drained between batches of the hot path."""

    def __init__(
        self,
        config: dict[str, Any],
        topics: Sequence[str],
        kafka_config: dict[str, Any],
        *,
        clients: KafkaClients = REAL_CLIENTS,
    ) -> None:
        self._consumer = clients.consumer(config)
        self._partitions = assign_from_beginning(self._consumer, topics)
        self._kafka_config = kafka_config
        self._end_offsets = clients.end_offsets

    def bootstrap(
        self, handle: Callable[[MessageClient], None], *, settle_s: float, timeout_s: float
    ) -> bool:
        """Read everything there is now; False when ``timeout_s`` ran out first."""
        ends = self._end_offsets(self._kafka_config, self._partitions)
        done = read_to_end(self._consumer, ends, handle, settle_s=settle_s, timeout_s=timeout_s)
        if not done:
            log.warning("global topics not read to their end within %.0fs; going on", timeout_s)
        return done

    def poll(self, handle: Callable[[MessageClient], None], batch: int) -> int:
        """Hand over what the client has already fetched, without waiting; returns how many."""
        msgs = self._consumer.consume(batch, 0)
        n = 0
        for msg in msgs:
            if msg.error() is not None:
                log.warning("consume error topic=%s: %s", msg.topic(), msg.error())
                continue
            handle(msg)
            n += 1
        return n

    def close(self) -> None:
        """Close the consumer (nothing to commit)."""
        self._consumer.close()
