"""Drains the event spool to Kafka with confluent-kafka, in order, acknowledging as it goes.

Every event is spooled first (``outbox``) and sent from here, so the broker being down only
makes the spool grow. The producer runs with ``acks=all``, idempotence where the broker
supports it (no duplicates from its own retries; without it one request is in flight per
connection, so retries cannot reorder) and an unbounded message timeout: while the broker is
away, the messages already handed to librdkafka wait in its queue and go out, in order, when
it is back; at most ``max_in_flight`` records are held there, the rest stay on disk. A
producer that fails fatally (idempotence state lost by the broker) is replaced and the
unacknowledged records are re-sent.

The spool checkpoint advances over the longest prefix of delivered records (delivery reports
arrive per partition, not in global order). A delivery that still fails with a retriable
error makes the forwarder wait for everything in flight and re-send from the checkpoint:
some records may then be sent twice (at-least-once; event ids are deterministic), but none
is lost and each camera's events stay in order. A record the broker rejects for good (too
large, not authorised) is logged, counted and skipped, so it cannot block the camera feed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from producers.events import SchemaStash, SpooledEvent, decode_event
from producers.metrics import EdgeMetrics
from producers.spool import Spool
from producers.spool_format import Position
from schemas import catalog
from schemas.errors import SchemaError
from schemas.serde import SchemaResolver

log = logging.getLogger(__name__)

# Errors that re-sending the same record can never fix. Everything else is retried from the
# spool: an unknown error must cost a duplicate, never an event.
_PERMANENT_CODES = {
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.INVALID_RECORD,
    KafkaError.INVALID_MSG,
    KafkaError.INVALID_MSG_SIZE,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.TOPIC_EXCEPTION,
    KafkaError._INVALID_ARG,
}


@dataclass(slots=True)
class _InFlight:
    end: Position
    topic: str
    appended_us: int
    done: bool = False
    reported: bool = False
    ok: bool = False
    generation: int = 0


class KafkaForwarder:
    """A thread that moves spooled events to the broker."""

    def __init__(
        self,
        spool: Spool,
        producer_config: dict[str, Any],
        resolver: SchemaResolver,
        stash: SchemaStash,
        metrics: EdgeMetrics,
        *,
        max_in_flight: int = 50_000,
        commit_interval_s: float = 0.2,
        idempotence: bool = False,
    ) -> None:
        self.spool = spool
        self._resolver = resolver
        self._stash = stash
        self._metrics = metrics
        self.max_in_flight = max_in_flight
        self.commit_interval_s = commit_interval_s
        conf = {
            "acks": "all",
            "enable.idempotence": idempotence,
            "message.timeout.ms": 0,  # never give up: the spool is the real buffer
            "partitioner": "murmur2_random",  # the Java clients' partitioner: same camera,
            "linger.ms": 10,  # same partition, whichever client produced it
            "logger": logging.getLogger("rdkafka.edge"),
            "error_cb": self._on_error,
        }
        if not idempotence:
            # Without idempotence a retried request could overtake the next one: keep one in
            # flight per connection so a camera's events stay in order.
            conf["max.in.flight.requests.per.connection"] = 1
        conf.update(producer_config)
        self._conf = conf
        self._producer = Producer(conf)
        self._fatal: str | None = None
        self._generation = 0
        self._headers: dict[tuple[str, bytes], bytes] = {}
        # Bound metric children per topic: label lookups cost more than the produce call.
        self._bound: dict[str, tuple[Callable[[float], None], Callable[[float], None]]] = {}
        self._inflight: deque[_InFlight] = deque()
        self._backlog: deque[tuple[Position, SpooledEvent | None]] = deque()
        self._rewind = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-forwarder", daemon=True)
        self.sent = 0
        self.acked = 0
        self.broker_error: str | None = None

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start forwarding in the background."""
        self._thread.start()

    def idle(self) -> bool:
        """True when the spool is empty and nothing is in flight."""
        return self.spool.empty and not self._inflight and not self._backlog

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until everything spooled so far is delivered; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return self.idle()

    def stop(self) -> None:
        """Stop the thread, give in-flight messages a moment, and persist the checkpoint."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        try:
            self._producer.flush(2.0)
            self._producer.poll(0)
        except KafkaException as exc:  # a fatal producer: what is unacknowledged stays spooled
            log.warning("kafka producer failed while stopping: %s", exc)
        self._settle()
        self.spool.commit()
        self._report()  # the gauges end at the final figures (what a last append left)

    # ---- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._loop()
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if isinstance(err, KafkaError) and err.fatal():
                    self._fatal = str(err)  # the loop replaces the producer
                    continue
                log.exception("forwarder loop failed; retrying in 1s")
                self._stop.wait(1.0)
            except Exception:  # a bug or a disk error: log it, keep the thread alive
                log.exception("forwarder loop failed; retrying in 1s")
                self._stop.wait(1.0)

    def _loop(self) -> None:
        last_commit = time.monotonic()
        registry_wait = 0.0
        while not self._stop.is_set():
            if self._fatal is not None:
                self._restart_producer()
            if self._rewind and not self._inflight:
                self.spool.rewind()
                self._backlog.clear()
                self._rewind = False
                log.info("forwarder re-sending from the spool checkpoint")
                self._stop.wait(0.5)  # an error that repeats must not spin
            produced = 0
            if not self._rewind and time.monotonic() >= registry_wait:
                try:
                    produced = self._produce_some()
                except SchemaError as exc:
                    log.warning("schema registry unavailable, events stay spooled: %s", exc)
                    registry_wait = time.monotonic() + 2.0
            self._producer.poll(0 if produced else 0.05)
            self._settle()
            now = time.monotonic()
            if now - last_commit >= self.commit_interval_s:
                self.spool.commit()
                self._report()
                last_commit = now

    def _produce_some(self) -> int:
        room = self.max_in_flight - len(self._inflight)
        if room <= 0:
            return 0
        if not self._backlog:
            for rec in self.spool.read(max_records=min(room, 2000)):
                try:
                    event = decode_event(rec.payload)
                except ValueError as exc:
                    log.error("unreadable event in the spool seq=%d skipped: %s", rec.seq, exc)
                    self._metrics.publish_failures.labels("unreadable").inc()
                    event = None  # keeps its place in the order, acknowledged when reached
                self._backlog.append((rec.end, event))
        produced = 0
        while self._backlog and len(self._inflight) < self.max_in_flight:
            end, event = self._backlog[0]
            if event is None:
                self._backlog.popleft()
                self._inflight.append(_InFlight(end, "?", 0, done=True, reported=True))
                continue
            header = self._header(event)  # may raise SchemaError: the record stays queued
            entry = _InFlight(end, event.topic, event.appended_us, generation=self._generation)
            try:
                self._producer.produce(
                    event.topic,
                    key=event.key,
                    value=header + event.value,
                    on_delivery=partial(self._delivered, entry),
                )
            except BufferError:
                break  # librdkafka's queue is full: poll and come back
            self._backlog.popleft()
            self._inflight.append(entry)
            produced += 1
        self.sent += produced
        return produced

    def _header(self, event: SpooledEvent) -> bytes:
        cache_key = (event.topic, event.schema_fp)
        header = self._headers.get(cache_key)
        if header is None:
            text = self._stash.text(event.schema_fp)
            if text is None:
                raise SchemaError(
                    f"schema {event.schema_fp.hex()} of a spooled {event.topic} event is not in "
                    f"the stash {self._stash.dir}"
                )
            schema_id = self._resolver.id_for(catalog.value_subject(event.topic), text)
            header = b"\x00" + schema_id.to_bytes(4, "big")
            self._headers[cache_key] = header
        return header

    def _delivered(self, entry: _InFlight, err: KafkaError | None, msg: Message) -> None:
        if entry.generation != self._generation:
            return  # a report from a producer that was replaced; its records are re-sent
        entry.reported = True
        if err is None:
            entry.done = entry.ok = True  # metrics are taken in _settle: this runs per event
            return
        if err.code() not in _PERMANENT_CODES:
            self._metrics.publish_failures.labels("retriable").inc()
            if not self._rewind:
                log.warning("delivery failed, will re-send from the spool: %s", err)
            self._rewind = True
            return
        self._metrics.publish_failures.labels("rejected").inc()
        log.error(
            "broker rejected an event for good topic=%s key=%r error=%s; skipped",
            entry.topic,
            msg.key(),
            err,
        )
        entry.done = True

    def _settle(self) -> None:
        """Acknowledge the delivered prefix; drop the rest after a failed batch completes."""
        last: Position | None = None
        inflight = self._inflight
        if inflight and inflight[0].done:
            now_us = time.time() * 1e6
            counts: dict[str, int] = {}
            while inflight and inflight[0].done:
                entry = inflight.popleft()
                last = entry.end
                if entry.ok:
                    counts[entry.topic] = counts.get(entry.topic, 0) + 1
                    self._topic_metrics(entry.topic)[1](max(0.0, now_us - entry.appended_us) / 1e6)
            for topic, n in counts.items():
                self._topic_metrics(topic)[0](n)
                self.acked += n
        if last is not None:
            self.spool.ack(last)
        if self._rewind and all(e.reported for e in self._inflight):
            # Every message of the failed window has reported: forget them, re-send.
            self._inflight.clear()

    def _topic_metrics(self, topic: str) -> tuple[Callable[[float], None], Callable[[float], None]]:
        """(published.inc, publish_latency.observe) of a topic, bound once."""
        bound = self._bound.get(topic)
        if bound is None:
            m = self._metrics
            bound = (m.published.labels(topic).inc, m.publish_latency.labels(topic).observe)
            self._bound[topic] = bound
        return bound

    def _on_error(self, err: KafkaError) -> None:
        self.broker_error = str(err)
        if err.fatal():
            # e.g. the idempotent producer's state was lost by a broker that restarted.
            self._fatal = str(err)
            log.error("kafka producer failed fatally, it will be recreated: %s", err)
        else:
            log.warning("kafka client error: %s", err)

    def _restart_producer(self) -> None:
        """Replace a producer that hit a fatal error; re-send from the checkpoint."""
        self._metrics.publish_failures.labels("fatal").inc()
        old = self._producer
        self._generation += 1
        self._producer = Producer(self._conf)
        self._fatal = None
        old.purge(in_queue=True, in_flight=True)
        old.poll(0)
        self._inflight.clear()
        self._backlog.clear()
        self._rewind = False
        self.spool.rewind()

    def _report(self) -> None:
        stats = self.spool.stats()
        m = self._metrics
        m.spool_records.labels("events").set(stats.pending_records)
        m.spool_bytes.labels("events").set(stats.pending_bytes)
        m.spool_evicted.labels("events").set(stats.evicted_records)
