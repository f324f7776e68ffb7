"""A producer that knows which of its records the broker has acknowledged."""

from __future__ import annotations

from functools import partial
from typing import Any

from confluent_kafka import KafkaError

from vidsight.kafka.clients import REAL_CLIENTS, ProducerFactory
from vidsight.kafka.errors import DeliveryError


class AckingProducer:
    """Records are counted in epochs: ``mark()`` closes the current epoch and returns its
    number, ``acknowledged(epoch)`` says without waiting whether every record of that epoch and
    of the ones before it was acknowledged, and ``flush`` waits for everything. A failed
    delivery makes both raise :class:`DeliveryError` once: nothing produced after it may be
    relied on, and the caller must not commit past any record queued since the last good flush.
    """

    def __init__(
        self, config: dict[str, Any], *, factory: ProducerFactory = REAL_CLIENTS.producer
    ) -> None:
        self._producer = factory(config)
        self._failed: list[str] = []
        self._epoch = 0
        self._open: dict[int, int] = {}  # epoch -> records not acknowledged yet (> 0)
        self._on_delivery = partial(self._delivered, 0)
        self.produced = 0

    def _delivered(self, epoch: int, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self._failed.append(f"{msg.topic()}[{msg.partition()}]: {err}")
        left = self._open[epoch] - 1
        if left:
            self._open[epoch] = left
        else:
            del self._open[epoch]

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        *,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue one record (waits for room when the client's queue is full)."""
        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": self._on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        if headers is not None:
            kwargs["headers"] = headers
        while True:
            try:
                self._producer.produce(topic, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)
        # Counted after the client took it: its report can only come from a later poll.
        epoch = self._epoch
        self._open[epoch] = self._open.get(epoch, 0) + 1
        self.produced += 1

    def poll(self) -> None:
        """Serve delivery reports without waiting."""
        self._producer.poll(0)

    def mark(self) -> int:
        """Close the current epoch; returns its number."""
        epoch = self._epoch
        self._epoch += 1
        self._on_delivery = partial(self._delivered, self._epoch)
        return epoch

    def acknowledged(self, epoch: int) -> bool:
        """Whether every record of ``epoch`` and earlier epochs was acknowledged."""
        self._raise_failures()
        return not self._open or min(self._open) > epoch

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until everything queued is acknowledged; DeliveryError otherwise."""
        left = self._producer.flush(timeout_s)
        if left:
            self._failed.append(f"{left} records not acknowledged in {timeout_s}s")
        self._raise_failures()

    def _raise_failures(self) -> None:
        if self._failed:
            failed, self._failed = self._failed, []
            detail = "; ".join(failed[:5])
            raise DeliveryError(f"the broker did not acknowledge produced records: {detail}")
