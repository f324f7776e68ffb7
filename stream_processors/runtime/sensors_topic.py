"""``vidsight sensors apply``: make the sensors topic hold what a YAML file says.

The file is the desired state of the cameras it names (those of its ``cameras`` list and
those its sensors belong to): each of its sensors is published unless the topic already
holds the same definition, and sensors the topic holds for those cameras but the file does
not are deleted with a tombstone. Sensors of other cameras are left alone, so a deployment
can keep one file per site. Sensor ids are global, so a file that reuses an id another
camera's sensor has would move that sensor: such a change is a ``move`` and is refused unless
the user asks for it (``--allow-move``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml
from confluent_kafka import Consumer, Message

from schemas import catalog
from schemas.errors import SerializationError
from schemas.records import SensorConfig
from schemas.serde import Serde
from stream_processors.config import load_sensors
from stream_processors.runtime.kafka import (
    AckingProducer,
    assign_from_beginning,
    consumer_config,
    end_offsets,
    producer_config,
    read_to_end,
)
from stream_processors.runtime.settings import ProcessorSettings

log = logging.getLogger(__name__)


class Action(StrEnum):
    """What applying a file does to one sensor."""

    CREATE = "create"
    UPDATE = "update"
    MOVE = "move"
    UNCHANGED = "unchanged"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class SensorChange:
    """One sensor's change; ``config`` is None for a delete (published as a tombstone).

    ``from_camera`` is the camera a moved sensor belongs to now (``move`` only).
    """

    sensor_id: str
    camera_id: str
    action: Action
    config: SensorConfig | None
    from_camera: str | None = None

    def describe(self) -> str:
        """One line for the user: action, sensor, camera (and where a move comes from)."""
        was = f", from camera {self.from_camera}" if self.from_camera else ""
        return f"{self.action.value:<9} {self.sensor_id}  (camera {self.camera_id}{was})"


def moves(changes: Iterable[SensorChange]) -> list[SensorChange]:
    """The changes that move a sensor from one camera to another."""
    return [c for c in changes if c.action is Action.MOVE]


def _same(a: SensorConfig, b: SensorConfig) -> bool:
    return dataclasses.replace(a, updated_ts=0) == dataclasses.replace(b, updated_ts=0)


def plan(
    current: Mapping[str, SensorConfig],
    desired: Sequence[SensorConfig],
    cameras: Iterable[str] = (),
) -> list[SensorChange]:
    """The changes that make ``current`` hold ``desired`` for the cameras concerned.

    Cameras concerned: those of ``desired`` plus ``cameras`` (a file listing a camera with no
    sensors deletes that camera's sensors). Changes come in file order, deletes last (by id).
    """
    scope = {cfg.camera_id for cfg in desired} | set(cameras)
    wanted = {cfg.sensor_id for cfg in desired}
    changes = []
    for cfg in desired:
        old = current.get(cfg.sensor_id)
        moved_from = None
        if old is None:
            action = Action.CREATE
        elif old.camera_id != cfg.camera_id:
            action, moved_from = Action.MOVE, old.camera_id
        elif _same(old, cfg):
            action = Action.UNCHANGED
        else:
            action = Action.UPDATE
        changes.append(SensorChange(cfg.sensor_id, cfg.camera_id, action, cfg, moved_from))
    for sensor_id in sorted(current):
        old = current[sensor_id]
        if old.camera_id in scope and sensor_id not in wanted:
            changes.append(SensorChange(sensor_id, old.camera_id, Action.DELETE, None))
    return changes


def file_cameras(path: Path) -> frozenset[str]:
    """Camera ids of a file's ``cameras`` list (the file was validated by load_sensors)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw = document.get("cameras") if isinstance(document, dict) else None
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(c["id"] for c in raw if isinstance(c, dict) and isinstance(c.get("id"), str))


def load_file(path: Path, *, updated_ts: int) -> tuple[tuple[SensorConfig, ...], frozenset[str]]:
    """The sensors of a file (validated: SensorConfigError names file:line) and its cameras."""
    sensors = load_sensors(path, updated_ts=updated_ts)
    return sensors, file_cameras(path)


def read_current(settings: ProcessorSettings, serde: Serde) -> dict[str, SensorConfig]:
    """The live sensor definitions on the sensors topic (latest per id, tombstones applied)."""
    codec = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    current: dict[str, SensorConfig] = {}

    def handle(msg: Message) -> None:
        key = msg.key()
        if not key:
            return
        sensor_id = key.decode("utf-8", errors="replace")
        try:
            cfg = codec.decode_or_tombstone(
                msg.value(), partition=msg.partition(), offset=msg.offset()
            )
        except SerializationError as exc:
            log.warning("skipping an unreadable sensor record: %s", exc)
            return
        if cfg is None:
            current.pop(sensor_id, None)
        else:
            current[sensor_id] = cfg

    consumer = Consumer(consumer_config(settings, **{"group.id": f"{settings.group_id}-apply"}))
    try:
        partitions = assign_from_beginning(consumer, [settings.topics.sensors])
        read_to_end(
            consumer,
            end_offsets(settings.kafka_client_config(), partitions),
            handle,
            settle_s=max(0.3, 4 * settings.fetch_wait_max_ms / 1000),
            timeout_s=settings.bootstrap_timeout_s,
        )
    finally:
        consumer.close()
    return current


def publish(settings: ProcessorSettings, serde: Serde, changes: Iterable[SensorChange]) -> int:
    """Publish every change that is not ``unchanged``, keyed by sensor id; returns how many."""
    codec = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    producer = AckingProducer(producer_config(settings))
    n = 0
    for change in changes:
        if change.action is Action.UNCHANGED:
            continue
        value = None if change.config is None else codec.encode(change.config)
        producer.produce(settings.topics.sensors, value, change.sensor_id.encode())
        n += 1
    producer.flush()
    return n
