"""The sinks' dead letters: the runtime's ``DeadLetterWriter`` on a producer of their own.

A letter the broker did not acknowledge surfaces as a ``StoreUnavailableError`` of Kafka, so
the runner treats it like any store outage: nothing of the checkpoint is committed, every
buffer is rewound and read again.
"""

from __future__ import annotations

from schemas.catalog import DLQ
from sinks.batching import SourceMessage
from sinks.errors import StoreUnavailableError
from sinks.settings import SinkSettings
from vidsight.kafka.clients import REAL_CLIENTS, KafkaClients, producer_config
from vidsight.kafka.dlq import DeadLetterWriter
from vidsight.kafka.errors import DeliveryError
from vidsight.kafka.producer import AckingProducer


class SinkDeadLetters:
    """Produces dead letters to vidsight.dlq; ``flush`` must succeed before offsets commit."""

    def __init__(
        self, settings: SinkSettings, *, stage: str, clients: KafkaClients = REAL_CLIENTS
    ) -> None:
        conf = producer_config(settings.kafka_client_config(), logger="rdkafka.dlq")
        self._writer = DeadLetterWriter(
            AckingProducer(conf, factory=clients.producer), DLQ, stage=stage
        )

    @property
    def sent(self) -> int:
        """Letters queued so far."""
        return self._writer.total

    def send(self, message: SourceMessage, error: BaseException) -> None:
        """Queue one dead letter (delivered by ``flush``)."""
        self._writer.send(
            error,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
        )

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every queued letter; StoreUnavailableError when the broker did not ack.

        A failed letter is reported once and then forgotten: the caller must not commit past
        any record whose letter was queued since the last good flush (the runner re-reads them).
        """
        try:
            self._writer.flush(timeout_s)
        except DeliveryError as exc:
            raise StoreUnavailableError(
                "kafka", f"dead letters not delivered to {DLQ}: {exc}"
            ) from exc
