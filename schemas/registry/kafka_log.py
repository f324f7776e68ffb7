"""The registry's event log on a Kafka topic (``_schemas`` by default).

- One partition, so the records have one total order; the topic is created explicitly, because
  brokers that auto-create topics give them their own default partition count (the local one
  uses 4), and is refused if it exists with more than one.
- One record per produce, flushed and acknowledged (delivery report) before ``append`` returns,
  so an HTTP success always means a durable record. Batches of one also sidestep the local
  broker's wrong high watermark for multi-record batches.
- The end of the log is found by writing a unique marker record and reading until it comes
  back, never from watermarks or "no data for a while" timing.
- Reading assigns the partition directly (no consumer group): nothing to commit, and no
  JoinGroup round, which the local broker makes wait about half the session timeout.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from schemas.registry.errors import CorruptLogError, StoreError, StoreTimeoutError
from schemas.registry.events import Event, LogMarker, Record, decode, encode

log = logging.getLogger(__name__)

# The log is the source of truth: it must never expire, and it is not an upsert table, so
# compaction would be wrong as well.
TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


class KafkaEventLog:
    """EventLog on one Kafka partition; one writer per topic (run one registry per topic)."""

    def __init__(
        self,
        client_config: Mapping[str, Any],
        topic: str,
        *,
        write_timeout_s: float = 10.0,
        read_timeout_s: float = 60.0,
    ) -> None:
        self._config = dict(client_config)
        self._topic = topic
        self._write_timeout_s = write_timeout_s
        self._read_timeout_s = read_timeout_s
        self._producer: Producer | None = None

    def open(self) -> None:
        self._ensure_topic()
        self._producer = Producer(
            {
                **self._config,
                "acks": "all",
                "linger.ms": 0,
                # librdkafka fails a delivery after this long, so a timed-out write surfaces as
                # a delivery error instead of a record left queued behind a returned flush().
                "message.timeout.ms": int(self._write_timeout_s * 1000),
                "max.in.flight.requests.per.connection": 1,
            }
        )
        log.info("registry log open topic=%s", self._topic)

    def _ensure_topic(self) -> None:
        admin = AdminClient(self._config)
        timeout = self._write_timeout_s
        try:
            # Ask for all topics: a metadata request naming a missing topic makes brokers with
            # auto-creation create it, with their default partition count.
            topics = admin.list_topics(timeout=timeout).topics
            if self._topic not in topics:
                new = NewTopic(
                    self._topic, num_partitions=1, replication_factor=-1, config=TOPIC_CONFIG
                )
                future = admin.create_topics([new], request_timeout=timeout)[self._topic]
                try:
                    future.result(timeout=timeout)
                    log.info("created topic=%s partitions=1", self._topic)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # lost a race: fine
                        raise
                topics = admin.list_topics(timeout=timeout).topics
        except KafkaException as exc:
            raise StoreError(f"cannot create or describe topic {self._topic}: {exc}") from exc
        partitions = len(topics[self._topic].partitions) if self._topic in topics else 0
        if partitions != 1:
            raise StoreError(
                f"topic {self._topic} has {partitions} partitions; the registry log needs exactly "
                "1 (a total order of its records). Delete it or choose another --topic."
            )

    def _produce(self, record: Record) -> int:
        if self._producer is None:
            raise StoreError("the registry log is not open")
        outcome: list[tuple[KafkaError | None, int]] = []

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            offset = msg.offset() if err is None else None
            outcome.append((err, -1 if offset is None else offset))

        key, value = encode(record)
        try:
            self._producer.produce(self._topic, key=key, value=value, on_delivery=on_delivery)
            self._producer.flush(self._write_timeout_s + 5.0)
        except (KafkaException, BufferError) as exc:
            raise StoreError(f"write to topic {self._topic} failed: {exc}") from exc
        if not outcome:
            # Should not happen given message.timeout.ms; drop it rather than let it land
            # later, after the caller was told the write failed.
            self._producer.purge()
            raise StoreTimeoutError(f"write to topic {self._topic} was not acknowledged in time")
        err, offset = outcome[0]
        if err is not None:
            kind = StoreTimeoutError if err.code() == KafkaError._MSG_TIMED_OUT else StoreError
            raise kind(f"write to topic {self._topic} failed: {err.str()}")
        return offset

    def append(self, event: Event) -> int:
        offset = self._produce(event)
        log.debug("appended topic=%s offset=%d record=%s", self._topic, offset, event)
        return offset

    def read_from(self, offset: int) -> Iterator[tuple[int, Event]]:
        token = uuid.uuid4().hex
        self._produce(LogMarker(token))
        consumer = Consumer(
            {
                **self._config,
                # Required by the client even though no group is joined (assign, no commits).
                "group.id": "vidsight-schema-registry",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # The local broker only answers a fetch when this wait is over.
                "fetch.wait.max.ms": 100,
            }
        )
        try:
            consumer.assign([TopicPartition(self._topic, 0, max(offset, 0))])
            deadline = time.monotonic() + self._read_timeout_s
            while True:
                if time.monotonic() > deadline:
                    raise StoreTimeoutError(
                        f"did not read topic {self._topic} to its end within "
                        f"{self._read_timeout_s:.0f}s"
                    )
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                error = msg.error()
                if error is not None:
                    if error.fatal():
                        raise StoreError(f"reading topic {self._topic} failed: {error.str()}")
                    # librdkafka reports transient trouble here and recovers by itself; the
                    # deadline bounds how long that may take.
                    log.warning("reading topic=%s error=%s", self._topic, error.str())
                    continue
                record = self._decode(msg)
                if isinstance(record, LogMarker):
                    if record.token == token:
                        return
                    continue
                yield msg.offset() or 0, record
        except KafkaException as exc:
            raise StoreError(f"reading topic {self._topic} failed: {exc}") from exc
        finally:
            consumer.close()

    def _decode(self, msg: Message) -> Record:
        value = msg.value()
        where = f"topic={self._topic} partition={msg.partition()} offset={msg.offset()}"
        if value is None:
            raise CorruptLogError(f"{where}: a tombstone has no meaning in the registry log")
        try:
            return decode(value)
        except CorruptLogError as exc:
            raise CorruptLogError(f"{where}: {exc}") from exc

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self._write_timeout_s)
            self._producer = None
