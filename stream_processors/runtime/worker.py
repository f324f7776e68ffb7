"""The detections-path worker: the pure rules engine on the runtime's consume loop.

One consumer group (``group_id``) over the co-partitioned detections and frames topics; the
state of a partition's cameras travels with the partition through the changelog. The health
topic (co-partitioned too) feeds the video_loss and node_offline alerts (``health.py``), opened
by the loop's clock in ``on_tick``, since a silent camera sends nothing that moves event time.
Sensor definitions and feedback are read whole by every worker (``GlobalFeed``) and applied between
batches, before the detections of the next batch.

Checkpoint order, so a crash anywhere repeats work but never loses or changes an output
(``checkpoint.py`` runs it alongside the loop instead of stalling it):

1. the outputs of everything processed are acknowledged by the broker;
2. the state of every changed camera is written to the changelog and acknowledged;
3. the input offsets are committed (for frames: no further than the first waiting frame).

After a crash the worker restarts from the committed offsets with the state of the last
checkpoint or a later one; the engine skips detections its state has already seen, so what
it emits again is what it emitted before, identical (deterministic ids and values).
No Kafka transactions: the local broker shows aborted ones to read_committed consumers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TopicPartition as KafkaTopicPartition

from schemas import catalog
from schemas.errors import RegistryUnavailableError, SerializationError
from schemas.records import Detections, Feedback, FrameRef, Heartbeat, SensorConfig
from schemas.serde import Serde
from stream_processors.errors import SensorConfigError
from stream_processors.rules import Engine
from stream_processors.rules.validate import check_record_size
from stream_processors.runtime.alignment import FrameAligner, HeldFrame
from stream_processors.runtime.changelog import Changelog, State
from stream_processors.runtime.checkpoint import Checkpointer, log_commit
from stream_processors.runtime.decoding import RetryingDecoder, StoppedError
from stream_processors.runtime.globalfeed import GlobalFeed
from stream_processors.runtime.health import HealthInput
from stream_processors.runtime.kafka import consumer_config, producer_config
from stream_processors.runtime.metrics import ProcessorMetrics
from stream_processors.runtime.outputs import Outputs
from stream_processors.runtime.ownership import Ownership
from stream_processors.runtime.settings import ProcessorSettings
from vidsight.kafka.backoff import Backoff
from vidsight.kafka.clients import REAL_CLIENTS, ConsumerClient, KafkaClients, TopicPartition
from vidsight.kafka.dlq import DeadLetterWriter
from vidsight.kafka.loop import ConsumeLoop, LoopOptions, LoopStats, message_error
from vidsight.kafka.producer import AckingProducer

log = logging.getLogger(__name__)

_UNASSIGNED_GRACE_S = 60.0
"""How long --exit-when-idle waits for a first assignment before counting idle time."""


@dataclass(slots=True)
class RunStats(LoopStats):
    """Totals of one run."""

    sensor_events: int = 0
    alerts: int = 0
    checkpoints: int = 0
    restored_cameras: int = 0


class Processor:
    """Runs the rules over the detections path until stopped (or idle).

    The loop is the runtime's ``ConsumeLoop``; the processor is its hooks. ``clients`` gives
    every Kafka client it uses (the group consumer, the global-topics reader, the changelog
    restorer, the producer and end-offset lookups): the real ones by default, an in-memory
    log in unit tests.
    """

    def __init__(
        self,
        settings: ProcessorSettings,
        *,
        serde: Serde | None = None,
        metrics: ProcessorMetrics | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        clients: KafkaClients = REAL_CLIENTS,
    ) -> None:
        self.settings = settings
        self._clients = clients
        self.engine = Engine(settings.engine_options())
        self.metrics = metrics if metrics is not None else ProcessorMetrics()
        self.metrics.watch_suppressions(self.engine.counters.as_dict)
        self.stats = RunStats()
        self.stop = stop if stop is not None else threading.Event()
        self._clock = clock
        self._serde = serde if serde is not None else Serde.for_registry(settings)
        t = settings.topics
        self._det_topic = t.detections
        self._frames_topic = t.frames
        self._sensors_topic = t.sensors
        s = self._serde
        self._det = s.topic(catalog.DETECTIONS, Detections)
        self._frames = s.topic(catalog.FRAMES, FrameRef)
        self._sensors = s.topic(catalog.CONFIG_SENSORS, SensorConfig)
        self._feedback = s.topic(catalog.FEEDBACK, Feedback)
        self.ownership = Ownership(self.engine, settings.feedback_buffer)
        self.aligner = FrameAligner(
            max_hold_s=settings.frame_max_hold_s, max_held=settings.frame_max_held
        )
        self._producer = AckingProducer(producer_config(settings), factory=clients.producer)
        self._dlq = DeadLetterWriter(self._producer, t.dlq)
        self._outputs = Outputs(self._producer, s, sensor_events=t.sensor_events, alerts=t.alerts)
        self._emit = self._outputs.emit
        self._changelog = Changelog(
            t.changelog,
            self._producer,
            consumer_config(settings, **{"group.id": f"{settings.group_id}-restore"}),
            timeout_s=settings.restore_timeout_s,
            consumer_factory=clients.consumer,
        )
        self._checkpoints = Checkpointer(self._producer, self._changelog, self.metrics)
        self._decode = RetryingDecoder(
            self.stop, self.metrics, settings.registry_retry_max_s
        ).decode
        self.health = HealthInput(
            t.health,
            s.topic(catalog.HEALTH, Heartbeat),
            self.engine,
            settings.liveness_options(),
            decode=self._decode,
            dlq=self._dlq,
            emit=self._emit,
        )
        self._consumer: ConsumerClient | None = None
        self._loop: ConsumeLoop | None = None
        self._feed: GlobalFeed | None = None
        self._had_input = False
        self._next_det: dict[int, int] = {}
        self._next_frame: dict[int, int] = {}
        self._uncommitted = False
        self._failed = False
        self._owned_partitions: set[int] = set()
        self._last_checkpoint = 0.0

    @property
    def partitions(self) -> tuple[int, ...]:
        """Input partitions assigned to this worker now."""
        return tuple(sorted(self._owned_partitions))

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, *, exit_when_idle_s: float | None = None) -> RunStats:
        """Bootstrap the global topics, join the group and process until stopped or idle."""
        settings = self.settings
        feed = self._feed = GlobalFeed(
            consumer_config(
                settings,
                **{
                    "group.id": f"{settings.group_id}-global",
                    "fetch.wait.max.ms": settings.global_fetch_wait_max_ms,
                },
            ),
            [settings.topics.sensors, settings.topics.feedback],
            settings.kafka_client_config(),
            clients=self._clients,
        )
        try:
            try:
                feed.bootstrap(
                    self._on_global,
                    settle_s=max(0.2, 4 * settings.fetch_wait_max_ms / 1000),
                    timeout_s=settings.bootstrap_timeout_s,
                )
            except StoppedError:
                log.info("stopped while waiting for the schema registry")
                self._checkpoint_now()
                return self.stats
            log.info("global topics read records=%d", self.stats.consumed)
            consumer = self._clients.consumer(consumer_config(settings, on_commit=log_commit))
            self._consumer = consumer
            self._loop = ConsumeLoop(
                consumer,
                [settings.topics.detections, settings.topics.frames, settings.topics.health],
                self,
                options=LoopOptions(
                    batch_max=settings.batch_max_messages,
                    poll_max_s=settings.poll_timeout_s,
                    exit_when_idle_s=exit_when_idle_s,
                    unassigned_grace_s=_UNASSIGNED_GRACE_S,
                ),
                stop=self.stop,
                # The processor never pauses: a registry outage is waited out in the decoder.
                backoff=Backoff(),
                label="processor",
                clock=self._clock,
                observe_batch=self.metrics.batch_seconds.observe,
            )
            self._last_checkpoint = self._clock()
            self._loop.run()
        except BaseException:
            self._failed = True  # close() must not commit past what may be lost
            raise
        finally:
            feed.close()
        return self.stats

    # -- loop hooks ------------------------------------------------------------------------

    def on_messages(self, messages: list[Any], now: float) -> None:
        """Run a consumed batch through the rules."""
        self._process(messages, now)
        self._had_input = True

    def on_tick(self, now: float) -> None:
        """Release due frames, read the global topics, move checkpoints along."""
        due = self.aligner.due(now)
        for held in due:
            self._apply_frame(held)
        lost = self.health.tick(now)
        self._producer.poll()
        if due or lost:
            self._uncommitted = True
        assert self._feed is not None and self._loop is not None
        n_global = self._feed.poll(self._on_global, self.settings.batch_max_messages)
        if self._had_input or n_global:
            self._had_input = False
            self._loop.touch(now)
            self._uncommitted = True
            self._report()
        checkpoints = self._checkpoints
        if checkpoints.busy:
            checkpoints.advance(self._loop.consumer)
        elif self._uncommitted and now - self._last_checkpoint >= self.settings.commit_interval_s:
            self._begin_checkpoint()
            self._last_checkpoint = now

    def due_in(self, now: float) -> float | None:
        """The consume wait is the configured poll timeout."""
        return None

    def holding(self) -> bool:
        """Never holding back an idle exit (frames held for alignment are state)."""
        return False

    def on_stop(self, failed: bool) -> None:
        """A checkpoint that waits for every acknowledgement, unless the run failed."""
        if failed:
            self._failed = True
        else:
            self._checkpoint_now()

    # -- the hot path ----------------------------------------------------------------------

    def _process(self, msgs: list[Any], now: float) -> None:
        det_topic = self._det_topic
        decode_det = self._det.decode
        on_detections = self.engine.on_detections
        partition_of = self.ownership.partition_of
        aligner = self.aligner
        next_det = self._next_det
        n_det = n_frames = n_health = 0
        for msg in msgs:
            if msg.error() is not None and message_error(msg, "processor"):
                continue
            p: int = msg.partition()
            offset: int = msg.offset()
            if msg.topic() == det_topic:
                n_det += 1
                try:
                    try:
                        det = decode_det(msg.value(), partition=p, offset=offset)
                    except RegistryUnavailableError:
                        det = self._decode(self._det, msg)
                except SerializationError as exc:
                    self._dlq.send_message(exc, msg, stage="processor.detections")
                    next_det[p] = offset + 1
                    continue
                camera_id = det.camera_id
                if partition_of.get(camera_id) != p:
                    self.ownership.claim(camera_id, p)
                before, after = aligner.on_detections(p, camera_id, det.frame_ts, det.seq)
                for held in before:
                    self._apply_frame(held)
                outputs = on_detections(det)
                if outputs:
                    self._emit(outputs)
                for held in after:
                    self._apply_frame(held)
                next_det[p] = offset + 1
            elif msg.topic() == self.health.topic:
                n_health += 1
                self.health.on_message(msg, p, offset, now)
            else:
                n_frames += 1
                self._on_frame_message(msg, p, offset, now)
        self.stats.consumed += n_det + n_frames + n_health
        self.metrics.count(
            self.metrics.messages_in,
            {det_topic: n_det, self._frames_topic: n_frames, self.health.topic: n_health},
        )

    def _on_frame_message(self, msg: Any, p: int, offset: int, now: float) -> None:
        try:
            frame = self._decode(self._frames, msg)
        except SerializationError as exc:
            self._dlq.send_message(exc, msg, stage="processor.frames")
            self._next_frame[p] = offset + 1
            return
        self._next_frame[p] = offset + 1
        for held in self.aligner.on_frame(p, offset, frame, now):
            self._apply_frame(held)

    def _apply_frame(self, held: HeldFrame) -> None:
        frame = held.frame
        if self.ownership.partition_of.get(frame.camera_id) != held.partition:
            self.ownership.claim(frame.camera_id, held.partition)
        outputs = self.engine.on_frame(frame)
        if outputs:
            self._emit(outputs)

    # -- the global topics -----------------------------------------------------------------

    def _on_global(self, msg: Any) -> None:
        self.stats.consumed += 1
        topic = msg.topic() or ""
        self.metrics.messages_in.labels(topic).inc()
        if topic == self._sensors_topic:
            self._on_sensor_message(msg)
            return
        try:
            feedback = self._decode(self._feedback, msg)
        except SerializationError as exc:
            self._dlq.send_message(exc, msg, stage="processor.feedback")
            return
        self.ownership.on_feedback(feedback)

    def _on_sensor_message(self, msg: Any) -> None:
        key = msg.key()
        try:
            if not key:
                raise SensorConfigError(None, "key", "the record has no key (the sensor id)")
            # Size first: decoding and validating cost grows with what the writer sent.
            check_record_size(None, len(key) + len(msg.value() or b""))
            sensor_id = key.decode("utf-8")
            cfg = self._decode(self._sensors, msg, tombstone=True)
            outputs = self.engine.on_sensor(sensor_id, cfg)
        except (SerializationError, SensorConfigError, UnicodeDecodeError) as exc:
            self._dlq.send_message(exc, msg, stage="processor.sensors")
            return
        if outputs:
            self._emit(outputs)

    # -- checkpoints and rebalances --------------------------------------------------------

    def _capture(self) -> tuple[list[State], list[KafkaTopicPartition]]:
        """The state of the cameras changed since the last capture, and the input positions
        to resume from."""
        partition_of = self.ownership.partition_of
        states: list[State] = [
            (camera_id, partition_of[camera_id], data)
            for camera_id, data in self.engine.snapshot_dirty().items()
            if camera_id in partition_of
        ]
        states += self.health.states(self._owned_partitions)
        wanted: list[KafkaTopicPartition] = []
        for p, offset in sorted(self._next_det.items()):
            wanted.append(KafkaTopicPartition(self._det_topic, p, offset))
        for p, offset in sorted(self._next_frame.items()):
            held = self.aligner.first_held_offset(p)
            resume = offset if held is None else held
            wanted.append(KafkaTopicPartition(self._frames_topic, p, resume))
        wanted += self.health.positions()
        return states, self._checkpoints.changed(wanted)

    def _begin_checkpoint(self) -> None:
        self._checkpoints.begin(*self._capture())
        self._uncommitted = False
        self._report()

    def _checkpoint_now(self) -> None:
        """A checkpoint that waits for every acknowledgement (rebalance, shutdown)."""
        self._checkpoints.complete(self._consumer, *self._capture())
        self._uncommitted = False
        self._report()

    def _report(self) -> None:
        m = self.metrics
        out = self._outputs.take_counts()
        m.count(m.messages_out, out)
        self.stats.sensor_events += out[self._outputs.sensor_events_topic]
        self.stats.alerts += out[self._outputs.alerts_topic]
        dead = sum(self._dlq.sent.values())
        if dead:
            m.count(m.dead_letters, self._dlq.sent)
            m.messages_out.labels(self._dlq.topic).inc(dead)
            self.stats.dead_letters += dead
            self._dlq.sent.clear()
        self.stats.checkpoints = self._checkpoints.completed
        m.cameras.set(len(self.engine.camera_ids))
        m.held_frames.set(self.aligner.held)
        cameras, nodes = self.health.watch.watched
        m.watched.labels("camera").set(cameras)
        m.watched.labels("node").set(nodes)
        m.liveness_open.set(self.health.watch.open_alerts)

    def _input_partitions(self, tps: list[TopicPartition]) -> list[int]:
        inputs = (self._det_topic, self._frames_topic)
        return sorted({tp.partition for tp in tps if tp.topic in inputs})

    def on_assign(self, tps: list[TopicPartition]) -> None:
        """Restore the state of the cameras of newly assigned partitions from the changelog."""
        started = time.perf_counter()
        new = [p for p in self._input_partitions(tps) if p not in self._owned_partitions]
        states = self._changelog.restore(new)
        for p in new:
            self._owned_partitions.add(p)
            self.aligner.assign(p)
            cams = self.health.restore(p, states.get(p, {}))
            for camera_id, exc in self.ownership.restore(p, cams):
                log.error("state not restored camera=%s partition=%d: %s", camera_id, p, exc)
            self.stats.restored_cameras += len(cams)
        self.metrics.partitions.set(len(self._owned_partitions))
        self.metrics.restore_seconds.observe(time.perf_counter() - started)
        log.info(
            "assigned partitions=%s restored_cameras=%d in %.2fs",
            new,
            sum(len(s) for s in states.values()),
            time.perf_counter() - started,
        )

    def on_revoke(self, tps: list[TopicPartition]) -> None:
        """Checkpoint before the partitions go (not after a failure: nothing may be relied on)."""
        if not self._failed:
            self._checkpoint_now()
        self._drop(tps)

    def on_lost(self, tps: list[TopicPartition]) -> None:
        """Partitions were taken away: drop their cameras without a checkpoint."""
        self._drop(tps)

    def _drop(self, tps: list[TopicPartition]) -> None:
        gone = self._input_partitions(tps)
        self.ownership.release(gone)
        # Health partitions restore nothing themselves (their open alerts come with input p).
        for p in self.health.drop(tp.partition for tp in tps if tp.topic == self.health.topic):
            self._checkpoints.forget(self.health.topic, p)
        for p in gone:
            self._owned_partitions.discard(p)
            self.aligner.revoke(p)
            self._next_det.pop(p, None)
            self._next_frame.pop(p, None)
            self._checkpoints.forget(self._det_topic, p)
            self._checkpoints.forget(self._frames_topic, p)
        self.metrics.partitions.set(len(self._owned_partitions))
        log.info("revoked partitions=%s", gone)
