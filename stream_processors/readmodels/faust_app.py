"""The faust App class of the read models, with the one broker setting faust does not expose.

faust's aiokafka driver builds its group consumer with ``fetch_max_wait_ms=1500`` hardcoded
(``AIOKafkaConsumerThread._create_worker_consumer``). On the local broker a fetch is never ended
early when data arrives, so every event would wait up to 1.5 s. faust lets an App choose its
transport (``App._new_transport``) and a transport its consumer class; those subclasses below
set the consumer's fetch wait before it starts, which is the only place it is read.
"""

from __future__ import annotations

from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TransportT

from stream_processors.readmodels.errors import ReadModelError


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: aiokafka_driver.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps the constructor argument here and hands it to its Fetcher in start();
        # fail loudly if a new aiokafka stores it elsewhere rather than silently keep 1.5 s.
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise ReadModelError(
                "this aiokafka version does not keep _fetch_max_wait_ms; the read models "
                "cannot lower faust's 1.5 s fetch wait"
            )
        consumer._fetch_max_wait_ms = cast(ReadModelApp, self.app).fetch_max_wait_ms
        return consumer


class _Consumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(aiokafka_driver.Transport):
    Consumer = _Consumer


class ReadModelApp(faust.App):
    """A faust App whose group consumer uses ``fetch_max_wait_ms`` instead of 1500 ms."""

    def __init__(self, app_id: str, *, fetch_max_wait_ms: int, **options: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(app_id, **options)

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> TransportT:
        return _Transport(self.conf.broker_producer, self)
