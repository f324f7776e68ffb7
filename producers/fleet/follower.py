"""Follow the compacted cameras topic: read it whole, then every change, in a thread.

The topic is read from its first offset without a consumer group (every node needs every
record), keeping the latest definition per key; a tombstone (null value) deletes one. Once
the read has reached the end (every partition at its reported end and a fetch comes back
empty: the local broker's end offsets can be low), the whole configuration is handed to
``on_snapshot`` and saved to the cache; after that every batch that changes something is.

When the broker cannot be reached at start (or the first read does not finish within
``config_timeout_s``), the last known configuration is loaded from the cache and handed over
instead, and the follower keeps trying: the topic's configuration replaces it once read. A
broker lost after the first read changes nothing: the node keeps its configuration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from confluent_kafka import KafkaException

from producers.errors import ConfigCacheError, EdgeError
from producers.fleet import cache
from producers.settings import EdgeSettings
from schemas import catalog
from schemas.errors import SchemaError, SerializationError
from schemas.records import CameraConfig, now_micros
from schemas.serde import Serde, TopicSerde
from vidsight.kafka.clients import (
    REAL_CLIENTS,
    ConsumerClient,
    KafkaClients,
    MessageClient,
    consumer_config,
)
from vidsight.kafka.errors import KafkaRuntimeError
from vidsight.kafka.reading import assign_from_beginning, read_to_end

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """Every live camera definition, and where it came from (the topic, or the cache)."""

    cameras: Mapping[str, CameraConfig]
    origin: Literal["topic", "cache"]
    saved_us: int | None = None
    """When the cache was written (origin ``cache`` only)."""

    def describe(self) -> str:
        """Where the configuration comes from, for people."""
        if self.origin == "topic" or self.saved_us is None:
            return "the cameras topic"
        when = datetime.fromtimestamp(self.saved_us / 1e6, UTC).isoformat(timespec="seconds")
        return f"the last known configuration from {when}"


def _utc(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")


class CameraConfigFollower:
    """Reads the cameras topic whole, then follows it, in its own thread."""

    def __init__(
        self,
        settings: EdgeSettings,
        on_snapshot: Callable[[ConfigSnapshot], None],
        *,
        clients: KafkaClients = REAL_CLIENTS,
        serde: Serde | None = None,
        topic: str = catalog.CONFIG_CAMERAS,
    ) -> None:
        self.settings = settings
        self.on_snapshot = on_snapshot
        self.clients = clients
        self.topic = topic
        self._serde = serde
        self._stop = threading.Event()
        self._delivered = False
        self.origin: Literal["none", "topic", "cache"] = "none"
        self.thread = threading.Thread(target=self._run, name="camera-config", daemon=True)

    def start(self) -> None:
        """Start following."""
        self.thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop following and wait for the thread."""
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout_s)

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()  # returns when stopped, or to read the topic whole again now
                continue
            except (KafkaException, KafkaRuntimeError, SchemaError) as exc:  # registry too
                self._unreachable(f"{type(exc).__name__}: {exc}")
            except Exception:  # a bug here must not end the node's cameras: log, retry
                log.exception("following %s failed", self.topic)
                self._unreachable("unexpected error (logged)")
            self._stop.wait(self.settings.config_retry_s)

    def _codec(self) -> TopicSerde[CameraConfig]:
        if self._serde is None:
            self._serde = Serde.for_registry(self.settings, auto_register=False)
        return self._serde.topic(catalog.CONFIG_CAMERAS, CameraConfig)

    def _follow(self) -> None:
        """Read the topic to its end, deliver it, then deliver every change; until stopped."""
        s = self.settings
        codec = self._codec()
        consumer = _consumer(s, self.clients)
        try:
            tps = _assign(consumer, self.topic, s.config_timeout_s)
            ends = self.clients.end_offsets(s.kafka_client_config(), tps)
            state: dict[str, CameraConfig] = {}
            positions: dict[tuple[str, int], int] = {}
            synced = False
            deadline = time.monotonic() + s.config_timeout_s
            while not self._stop.is_set():
                reached = all(positions.get(tp, 0) >= end for tp, end in ends.items() if end > 0)
                msgs = consumer.consume(500, 0.3 if reached else 0.1)
                if _rewound(msgs, positions):
                    # A restarted broker numbers from 0 again (the consumer was reset to the
                    # start): a key it no longer holds would linger in ``state``. Read it whole
                    # again; the node runs its configuration meanwhile.
                    log.warning("%s went back to an earlier offset: reading it again", self.topic)
                    return
                changed = _apply(codec, msgs, state, positions)
                if synced:
                    if changed:
                        self._deliver(state)
                elif reached and not msgs:
                    synced = True
                    log.info("cameras topic read: %d definition(s)", len(state))
                    self._deliver(state)
                elif time.monotonic() > deadline and not self._delivered:
                    self._unreachable(f"the first read took over {s.config_timeout_s:g}s")
        finally:
            consumer.close()

    def _deliver(self, state: Mapping[str, CameraConfig]) -> None:
        snapshot = ConfigSnapshot(dict(state), "topic")
        if self.origin == "cache":
            log.warning("cameras topic reachable again: running its configuration")
        self.origin = "topic"
        self._delivered = True
        self.on_snapshot(snapshot)
        path = self.settings.config_cache_path
        try:
            cache.save(path, snapshot.cameras, now_micros())
        except ConfigCacheError as exc:
            log.error("%s", exc)

    def _unreachable(self, reason: str) -> None:
        """The topic cannot be read: the first time, fall back to the cache."""
        if self._delivered:
            log.warning("cameras topic unreachable (%s): keeping the running configuration", reason)
            return
        path = self.settings.config_cache_path
        try:
            cached = cache.load(path)
        except ConfigCacheError as exc:
            log.error("cameras topic unreachable (%s) and %s: running no cameras", reason, exc)
            cached = None
        self._delivered = True
        if cached is None:
            log.error(
                "cameras topic unreachable (%s) and no last known configuration at %s: "
                "running no cameras until the topic can be read",
                reason,
                path,
            )
            return
        self.origin = "cache"
        log.warning(
            "cameras topic unreachable (%s): running the last known configuration from %s "
            "(%d definition(s), %s)",
            reason,
            _utc(cached.saved_us),
            len(cached.cameras),
            path,
        )
        self.on_snapshot(ConfigSnapshot(cached.cameras, "cache", cached.saved_us))


def _consumer(settings: EdgeSettings, clients: KafkaClients) -> ConsumerClient:
    """A consumer for assign-all reads (its group id is never joined or committed)."""
    conf = consumer_config(
        settings.kafka_client_config(),
        group_id=f"vidsight-edge-config-{settings.node_id or 'default'}",
        session_timeout_ms=6000,
        fetch_wait_max_ms=100,
        logger="rdkafka.edge-config",
        overrides={"socket.connection.setup.timeout.ms": int(settings.config_timeout_s * 1000)},
    )
    return clients.consumer(conf)


def _assign(consumer: ConsumerClient, topic: str, timeout_s: float) -> list[tuple[str, int]]:
    # list_topics raises KafkaException when no broker answers within the timeout.
    meta = consumer.list_topics(topic, timeout=timeout_s)
    if topic not in meta.topics:
        raise KafkaRuntimeError(f"topic {topic} does not exist")
    return assign_from_beginning(consumer, [topic])


def _rewound(msgs: Sequence[MessageClient], positions: Mapping[tuple[str, int], int]) -> bool:
    """Whether a record comes from before a position already read (the log went back)."""
    return any(
        msg.error() is None
        and (msg.offset() or 0) < positions.get((msg.topic() or "", msg.partition() or 0), 0)
        for msg in msgs
    )


def _apply(
    codec: TopicSerde[CameraConfig],
    msgs: Sequence[MessageClient],
    state: dict[str, CameraConfig],
    positions: dict[tuple[str, int], int],
) -> bool:
    """Fold records into ``state`` (latest per key, tombstones delete); True if it changed."""
    changed = False
    for msg in msgs:
        topic = msg.topic() or ""
        if msg.error() is not None:
            log.warning("consume error topic=%s: %s", topic, msg.error())
            continue
        partition, offset = msg.partition() or 0, msg.offset() or 0
        positions[(topic, partition)] = offset + 1
        key = msg.key()
        if not key:
            log.warning("skipping a record without key: %s[%d]@%d", topic, partition, offset)
            continue
        camera_id = key.decode("utf-8", errors="replace")
        try:
            record = codec.decode_or_tombstone(msg.value(), partition=partition, offset=offset)
        except SerializationError as exc:
            log.warning("skipping an unreadable camera definition: %s", exc)
            continue
        if record is None:
            changed |= state.pop(camera_id, None) is not None
        elif record.camera_id != camera_id:
            log.warning(
                "skipping %s[%d]@%d: key %r but camera_id %r",
                topic,
                partition,
                offset,
                camera_id,
                record.camera_id,
            )
        elif state.get(camera_id) != record:
            state[camera_id] = record
            changed = True
    return changed


def read_cameras(
    settings: EdgeSettings,
    *,
    clients: KafkaClients = REAL_CLIENTS,
    serde: Serde | None = None,
    topic: str = catalog.CONFIG_CAMERAS,
) -> dict[str, CameraConfig]:
    """Every live camera definition on the topic now (latest per key, tombstones applied).

    Raises EdgeError when the topic cannot be read to its end within ``config_timeout_s``.
    """
    codec = (serde or Serde.for_registry(settings, auto_register=False)).topic(
        catalog.CONFIG_CAMERAS, CameraConfig
    )
    consumer = _consumer(settings, clients)
    state: dict[str, CameraConfig] = {}
    positions: dict[tuple[str, int], int] = {}

    def handle(msg: MessageClient) -> None:
        _apply(codec, [msg], state, positions)

    try:
        try:
            tps = _assign(consumer, topic, settings.config_timeout_s)
        except KafkaException as exc:
            raise EdgeError(
                f"cannot read {topic} at {settings.kafka_bootstrap}: {exc.args[0]}"
            ) from exc
        complete = read_to_end(
            consumer,
            clients.end_offsets(settings.kafka_client_config(), tps),
            handle,
            settle_s=0.5,
            timeout_s=settings.config_timeout_s,
        )
    finally:
        consumer.close()
    if not complete:
        raise EdgeError(
            f"reading {topic} at {settings.kafka_bootstrap} did not finish within "
            f"{settings.config_timeout_s:g}s"
        )
    return state
