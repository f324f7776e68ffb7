"""The live feed: one consumer thread reading ``vidsight.alerts`` and ``vidsight.feedback``
from the end, fanning each record out to the open pages (Server-Sent Events subscribers).

It starts at the end of every partition and also skips records stamped before it started,
because the local broker may report an end offset that is too low (see
``stream_processors/tail.py``). It remembers the revisions it saw per alert (bounded), which the
alert detail merges with what the stores still hold.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer

from schemas import catalog
from schemas.errors import SerializationError
from schemas.records import Alert, Feedback
from schemas.serde import Serde
from stream_processors.runtime.kafka import assign_recent
from vidsight.console.settings import ConsoleSettings

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
"""Events a page may fall behind by; a page slower than that is dropped (it reconnects)."""
REVISIONS_PER_ALERT = 200
RETRY_S = 2.0


class Hub:
    """Subscribers (one asyncio queue per open page) and the revisions seen per alert."""

    def __init__(self, revisions_kept: int) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[asyncio.Queue[str | None], asyncio.AbstractEventLoop] = {}
        self._revisions: OrderedDict[str, dict[int, dict[str, Any]]] = OrderedDict()
        self._kept = revisions_kept
        self.ready = threading.Event()
        self.error: str | None = None

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers[queue] = asyncio.get_running_loop()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        with self._lock:
            self._subscribers.pop(queue, None)

    def publish(self, kind: str, datum: dict[str, Any]) -> None:
        """Send one event (``alert`` or ``feedback``) to every page; remember alert revisions."""
        if kind == "alert":
            with self._lock:
                seen = self._revisions.setdefault(datum["alert_id"], {})
                self._revisions.move_to_end(datum["alert_id"])
                if len(seen) < REVISIONS_PER_ALERT:
                    seen[int(datum["revision"])] = datum
                while len(self._revisions) > self._kept:
                    self._revisions.popitem(last=False)
        text = json.dumps({"type": kind, kind: datum}, separators=(",", ":"), default=str)
        with self._lock:
            targets = list(self._subscribers.items())
        for queue, loop in targets:
            loop.call_soon_threadsafe(_offer, queue, text)

    def revisions(self, alert_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._revisions.get(alert_id, {}).values())


def _offer(queue: asyncio.Queue[str | None], text: str) -> None:
    try:
        queue.put_nowait(text)
    except asyncio.QueueFull:
        # Too far behind: end the stream; the page's EventSource reconnects and reloads state.
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


class LiveFeed:
    """The consumer thread; ``start`` / ``stop`` from the app's lifespan."""

    def __init__(self, settings: ConsoleSettings, serde: Serde, hub: Hub) -> None:
        self._settings = settings
        self._serde = serde
        self.hub = hub
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _decoders(self) -> dict[str, Callable[[bytes, int, int], tuple[str, dict[str, Any]]]]:
        alerts = self._serde.topic(catalog.ALERTS, Alert)
        feedback = self._serde.topic(catalog.FEEDBACK, Feedback)

        def alert(value: bytes, partition: int, offset: int) -> tuple[str, dict[str, Any]]:
            datum = alerts.decode_datum(value, partition=partition, offset=offset)
            return "alert", Alert.from_avro(datum).to_avro()

        def verdict(value: bytes, partition: int, offset: int) -> tuple[str, dict[str, Any]]:
            datum = feedback.decode_datum(value, partition=partition, offset=offset)
            return "feedback", Feedback.from_avro(datum).to_avro()

        return {catalog.ALERTS: alert, catalog.FEEDBACK: verdict}

    def _run(self) -> None:
        # Topics may not exist yet (a fresh `vidsight up`), a broker may restart: retry, and
        # let /healthz and the pages say the feed is down meanwhile.
        while not self._stop.is_set():
            try:
                self._consume()
            except Exception as exc:
                log.warning("live feed down, retrying error=%s: %s", type(exc).__name__, exc)
                self.hub.error = f"live feed down: {type(exc).__name__}"
                self._stop.wait(RETRY_S)

    def _consume(self) -> None:
        decoders = self._decoders()
        conf = self._settings.kafka_client_config(
            **{
                "group.id": "vidsight-console",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 20,
                "fetch.error.backoff.ms": 50,
                "logger": logging.getLogger("rdkafka.console"),
            }
        )
        consumer = Consumer(conf)
        started_ms = int(time.time() * 1000)
        try:
            # A little before the reported end, records stamped before the start skipped.
            assign_recent(consumer, list(decoders))
            self.hub.error = None
            self.hub.ready.set()
            while not self._stop.is_set():
                # poll() returns as soon as one record is there; consume(n, t) would wait for
                # n records or the whole timeout, which is latency added to every alert shown.
                first = consumer.poll(0.2)
                batch = [] if first is None else [first, *consumer.consume(499, 0)]
                for msg in batch:
                    value, topic = msg.value(), msg.topic()
                    if msg.error() is not None or value is None or topic not in decoders:
                        continue
                    if msg.timestamp()[1] < started_ms:
                        continue  # written before the feed started
                    try:
                        kind, datum = decoders[topic](
                            value, msg.partition() or 0, msg.offset() or 0
                        )
                    except (SerializationError, KeyError, ValueError) as exc:
                        log.warning("skipping an unreadable record: %s", exc)
                        continue
                    self.hub.publish(kind, datum)
        finally:
            consumer.close()
