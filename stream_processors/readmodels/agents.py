"""The faust agents: decode a batch, group it by camera, fold the pure changes into the tables.

An agent takes what the stream has (up to ``batch_max_records``, waiting at most
``batch_within_ms`` for more) and writes each changed camera's value once per batch. faust
acks the batch's events only after the loop body ran, so delivery stays at-least-once; the
source offset each value remembers makes a redelivered record a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar, cast

from faust.streams import Stream
from faust.types import EventT, StreamT

from schemas import catalog
from schemas.errors import RegistryUnavailableError, SerializationError
from schemas.records import Alert, Feedback, SensorEvent, now_micros
from schemas.serde import Serde, TopicSerde
from stream_processors.readmodels.crossings import apply_crossing
from stream_processors.readmodels.faust_app import ReadModelApp
from stream_processors.readmodels.metrics import ReadModelMetrics
from stream_processors.readmodels.occupancy import apply_occupancy
from stream_processors.readmodels.open_alerts import apply_alert
from stream_processors.readmodels.settings import ReadModelSettings
from stream_processors.readmodels.tables import Projection, Sourced, StateTable, group_by_camera
from stream_processors.readmodels.verdicts import apply_feedback

log = logging.getLogger(__name__)

DLQ_STAGE = "readmodels"
_MESSAGE_LIMIT = 1024
_RETRY_MAX_S = 15.0

R = TypeVar("R", SensorEvent, Alert, Feedback)
AgentFun = Callable[[StreamT[bytes]], Awaitable[None]]


class SourceDecoder:
    """Decodes source records; bad ones go to vidsight.dlq, registry outages are waited out."""

    def __init__(self, app: ReadModelApp, metrics: ReadModelMetrics) -> None:
        self.dlq = app.topic(catalog.DLQ, key_type=bytes, value_type=bytes)
        self.metrics = metrics

    async def decode_all(
        self, codec: TopicSerde[R], events: Sequence[EventT[bytes]]
    ) -> list[Sourced[R]]:
        """The batch's good records in order; the bad ones are dead-lettered."""
        out: list[Sourced[R]] = []
        for event in events:
            msg = event.message
            record = await self._decode(codec, event)
            if record is not None:
                out.append(Sourced(record, msg.partition, msg.offset, msg.timestamp))
        return out

    async def _decode(self, codec: TopicSerde[R], event: EventT[bytes]) -> R | None:
        msg = event.message
        delay = 0.5
        while True:
            try:
                return codec.decode(msg.value, partition=msg.partition, offset=msg.offset)
            except RegistryUnavailableError as exc:
                self.metrics.registry_retries.labels(msg.topic).inc()
                log.warning(
                    "registry unavailable topic=%s retry_in_s=%.1f: %s", msg.topic, delay, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            except SerializationError as exc:
                await self._dead_letter(event, exc)
                return None

    async def _dead_letter(self, event: EventT[bytes], error: SerializationError) -> None:
        msg = event.message
        log.warning("dead letter topic=%s partition=%d offset=%d: %s", msg.topic, msg.partition,
                    msg.offset, error)  # fmt: skip
        text = str(error).encode()[:_MESSAGE_LIMIT].decode(errors="ignore")
        values = (DLQ_STAGE, type(error).__name__, text, msg.topic, str(msg.partition),
                  str(msg.offset), str(now_micros()))  # fmt: skip
        headers = [(k, v.encode()) for k, v in zip(catalog.DLQ_HEADERS, values, strict=True)]
        await self.dlq.send(key=msg.key, value=msg.value, headers=headers)
        self.metrics.records.labels(msg.topic, "dead_lettered").inc()


def projector(
    codec: TopicSerde[R],
    projections: Sequence[Projection[Any, R]],
    decoder: SourceDecoder,
    settings: ReadModelSettings,
) -> AgentFun:
    """An agent feeding ``projections`` from the stream of ``codec``'s topic."""
    metrics = decoder.metrics
    topic = codec.topic
    max_records, within_s = settings.batch_max_records, settings.batch_within_ms / 1000

    async def agent(stream: StreamT[bytes]) -> None:
        # take_events is on faust's Stream, not on the StreamT interface agents are typed with
        batches = cast(Stream[bytes], stream).take_events(max_records, within=within_s)
        async for events in batches:
            batch = await decoder.decode_all(codec, events)
            for (camera_id, partition), items in group_by_camera(batch).items():
                for p in projections:
                    if p.table.apply(camera_id, partition, p.change, items):
                        metrics.table_writes.labels(p.table.name).inc()
            now = time.time()
            metrics.records.labels(topic, "applied").inc(len(batch))
            metrics.batch_records.labels(topic).observe(len(events))
            visible = metrics.visible_seconds.labels(topic)
            for item in batch:
                if item.timestamp:
                    visible.observe(max(now - item.timestamp, 0.0))

    return agent


def add_agents(
    app: ReadModelApp,
    tables: tuple[StateTable[Any], StateTable[Any], StateTable[Any], StateTable[Any]],
    settings: ReadModelSettings,
    serde: Serde,
    metrics: ReadModelMetrics,
) -> None:
    """One agent per source topic: sensor events, alerts, feedback."""
    occupancy, crossings, open_alerts, fp_verdicts = tables
    decoder = SourceDecoder(app, metrics)
    keep = settings.crossings_keep_days
    agents: list[tuple[str, str, AgentFun]] = [
        (
            catalog.SENSOR_EVENTS,
            "sensor-events",
            projector(
                serde.topic(catalog.SENSOR_EVENTS, SensorEvent),
                [
                    Projection(occupancy, apply_occupancy),
                    Projection(crossings, partial(apply_crossing, keep_days=keep)),
                ],
                decoder,
                settings,
            ),
        ),
        (
            catalog.ALERTS,
            "alerts",
            projector(
                serde.topic(catalog.ALERTS, Alert),
                [Projection(open_alerts, apply_alert)],
                decoder,
                settings,
            ),
        ),
        (
            catalog.FEEDBACK,
            "feedback",
            projector(
                serde.topic(catalog.FEEDBACK, Feedback),
                [Projection(fp_verdicts, apply_feedback)],
                decoder,
                settings,
            ),
        ),
    ]
    for topic, name, fun in agents:
        source = app.topic(topic, key_type=bytes, value_type=bytes)
        app.agent(source, name=name)(fun)
