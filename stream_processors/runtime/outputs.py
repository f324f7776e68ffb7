"""What the rules emit, on its way out: sensor events and alerts, keyed by camera id."""

from __future__ import annotations

from collections.abc import Sequence

from schemas import catalog
from schemas.records import Alert, SensorEvent
from schemas.serde import Serde
from stream_processors.rules import Output
from vidsight.kafka.producer import AckingProducer


class Outputs:
    """Encodes rules outputs and queues them in the order the engine returned them."""

    def __init__(
        self, producer: AckingProducer, serde: Serde, *, sensor_events: str, alerts: str
    ) -> None:
        self._producer = producer
        self._events = serde.topic(catalog.SENSOR_EVENTS, SensorEvent)
        self._alerts = serde.topic(catalog.ALERTS, Alert)
        self.sensor_events_topic = sensor_events
        self.alerts_topic = alerts
        self._n_events = 0
        self._n_alerts = 0

    def emit(self, outputs: Sequence[Output]) -> None:
        """Queue every output (acknowledged by the producer's next flush)."""
        produce = self._producer.produce
        for out in outputs:
            key = out.camera_id.encode()
            if isinstance(out, SensorEvent):
                produce(self.sensor_events_topic, self._events.encode(out), key)
                self._n_events += 1
            else:
                produce(self.alerts_topic, self._alerts.encode(out), key)
                self._n_alerts += 1

    def take_counts(self) -> dict[str, int]:
        """Records queued per topic since the previous call."""
        counts = {self.sensor_events_topic: self._n_events, self.alerts_topic: self._n_alerts}
        self._n_events = self._n_alerts = 0
        return counts
