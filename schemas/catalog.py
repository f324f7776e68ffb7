"""The topic catalog: every Kafka topic of vidsight, its value schema and its settings.

This module is the single place that knows topic names, partition counts and topic configs;
the stack launcher creates topics from ``CATALOG`` and ``vidsight schemas register`` registers
``<topic>-value`` subjects from it.

Keys: every topic is keyed by ``camera_id`` so one camera's events stay ordered on one
partition, except ``vidsight.config.sensors``, which is keyed by ``sensor_id``: it is compacted,
and compaction keeps one value per key, so a camera key would keep only its last sensor. The
config topics are read whole by every worker (a global table), so their partitioning does
not matter for co-location and they use one partition, which gives configuration changes a
total order.

Retention: Kafka is the source of truth and the S3 archive holds every topic forever, so topic
retention only bounds how far back a store can be rebuilt by replaying Kafka alone:

- frames 3 days (highest volume, only heartbeat / watermark value after processing),
- detections 7 days, sensor-events 30 days, alerts 365 days,
- feedback forever (the learned false-positive memory is rebuilt from it),
- config topics forever and compacted (the current configuration is rebuilt from them),
- dlq 30 days (long enough for someone to look at it and replay).
- recordings 30 days (segment references; the archive and PostgreSQL keep them as long as
  the recordings themselves, which the retention policy expires).
- health 7 days (heartbeats; camera_status keeps the latest per camera, ClickHouse the history).
- processor-changelog forever and compacted: the latest rules state of each camera.

vidsight.processor-changelog is the detections-path runtime's state store: key camera_id,
value the raw bytes of ``Engine.snapshot`` (not Avro: only the processor reads it, and the rules
core versions its own layout). The runtime writes each camera's state to the partition number
of the input partition the camera lives on, so a worker assigned input partition p restores
its cameras from changelog partition p alone; hence the same 12 partitions as the inputs.

vidsight.dlq is not Avro: its value is the original message bytes, unchanged, and the
context travels in headers (``DLQ_HEADERS``), so a record that failed to decode can still be
inspected and replayed after the bug is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from fastavro import parse_schema

from schemas.errors import UnknownTopicError
from vidsight.kafka import dlq

_PACKAGE = "schemas"

DEFAULT_PARTITIONS = 12

_DAY_MS = 24 * 60 * 60 * 1000

FRAMES = "vidsight.frames"
DETECTIONS = "vidsight.detections"
SENSOR_EVENTS = "vidsight.sensor-events"
ALERTS = "vidsight.alerts"
FEEDBACK = "vidsight.feedback"
CONFIG_CAMERAS = "vidsight.config.cameras"
CONFIG_SENSORS = "vidsight.config.sensors"
DLQ = "vidsight.dlq"
PROCESSOR_CHANGELOG = "vidsight.processor-changelog"
RECORDINGS = "vidsight.recordings"
HEALTH = "vidsight.health"

DLQ_HEADERS = dlq.DLQ_HEADERS
"""Header names of a vidsight.dlq record, in the order producers write them (values UTF-8);
defined by the Kafka runtime that writes them."""


def _retention(days: int | None) -> str:
    return "-1" if days is None else str(days * _DAY_MS)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One Kafka topic: name, value schema, partitions and topic-level config."""

    name: str
    value_schema: str | None  # avsc file stem in this package, or None for raw bytes (DLQ)
    partitions: int
    config: Mapping[str, str]
    compacted: bool
    doc: str
    key: str = "camera_id"  # the record field whose value is the message key

    @property
    def subject(self) -> str | None:
        """Schema registry subject of the value, or None for a raw topic."""
        return None if self.value_schema is None else value_subject(self.name)


def _spec(
    name: str,
    value_schema: str | None,
    doc: str,
    *,
    retention_days: int | None,
    compacted: bool = False,
    partitions: int = DEFAULT_PARTITIONS,
    key: str = "camera_id",
) -> TopicSpec:
    config = {
        "cleanup.policy": "compact" if compacted else "delete",
        "retention.ms": _retention(retention_days),
    }
    return TopicSpec(
        name=name,
        value_schema=value_schema,
        partitions=partitions,
        config=MappingProxyType(config),
        compacted=compacted,
        doc=doc,
        key=key,
    )


CATALOG: tuple[TopicSpec, ...] = (
    _spec(
        FRAMES,
        "FrameRef",
        "Every sampled frame; the per-camera event-time watermark and heartbeat.",
        retention_days=3,
    ),
    _spec(
        DETECTIONS,
        "Detections",
        "One message per analysed frame with objects: model and tracked objects.",
        retention_days=7,
    ),
    _spec(
        SENSOR_EVENTS,
        "SensorEvent",
        "What a rule saw: zone enter/exit, line cross + direction, loiter, occupancy.",
        retention_days=30,
    ),
    _spec(
        ALERTS,
        "Alert",
        "Alert lifecycle new/update/end with deterministic alert_id.",
        retention_days=365,
    ),
    _spec(
        FEEDBACK,
        "Feedback",
        "Operator verdicts on alerts; the false-positive memory is rebuilt from it.",
        retention_days=None,
    ),
    _spec(
        CONFIG_CAMERAS,
        "CameraConfig",
        "Camera definitions; a null value (tombstone) deletes the camera.",
        retention_days=None,
        compacted=True,
        partitions=1,
    ),
    _spec(
        CONFIG_SENSORS,
        "SensorConfig",
        "Sensor definitions keyed by sensor_id; a null value (tombstone) deletes the sensor.",
        retention_days=None,
        compacted=True,
        partitions=1,
        key="sensor_id",
    ),
    _spec(
        RECORDINGS,
        "RecordingSegment",
        "One reference per recorded MP4 segment: camera, time range, S3 URI, size, sha256.",
        retention_days=30,
    ),
    _spec(
        HEALTH,
        "Heartbeat",
        "Heartbeats of edge nodes (key node:<node_id>) and their cameras (key camera_id): "
        "state, fps decoded/analysed, reconnects, last frame, spool depth.",
        retention_days=7,
    ),
    _spec(
        PROCESSOR_CHANGELOG,
        None,
        "Rules state per camera (raw Engine snapshot bytes), written by the detections-path "
        "runtime to the partition number of the camera's input partition. Not Avro.",
        retention_days=None,
        compacted=True,
    ),
    _spec(
        DLQ,
        None,
        "Raw original bytes of records that failed, with DLQ_HEADERS naming stage, error "
        "and source topic/partition/offset. Not Avro.",
        retention_days=30,
    ),
)

_BY_NAME: Mapping[str, TopicSpec] = MappingProxyType({spec.name: spec for spec in CATALOG})


def value_subject(topic_name: str) -> str:
    """Schema registry subject of a topic's values (TopicNameStrategy): ``<topic>-value``."""
    return f"{topic_name}-value"


def topic(name: str) -> TopicSpec:
    """The catalog entry of a topic; UnknownTopicError when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise UnknownTopicError(f"unknown topic {name!r}; known topics: {known}") from None


@cache
def _schema_dir() -> Traversable:
    try:
        return resources.files(_PACKAGE)
    except NotADirectoryError:
        # A stale editable install can expose this package as a namespace package whose path
        # holds a non-directory hook entry; the files are still next to this module.
        return Path(__file__).parent


def schema_stems() -> tuple[str, ...]:
    """Stems of every ``*.avsc`` file shipped in this package, sorted."""
    files = _schema_dir()
    return tuple(
        sorted(p.name.removesuffix(".avsc") for p in files.iterdir() if p.name.endswith(".avsc"))
    )


@cache
def _raw_text(stem: str) -> str:
    resource = _schema_dir().joinpath(f"{stem}.avsc")
    if not resource.is_file():
        known = ", ".join(schema_stems())
        raise UnknownTopicError(f"unknown schema {stem!r}; known schemas: {known}")
    return resource.read_text(encoding="utf-8")


@cache
def schema_dict(stem: str) -> Mapping[str, Any]:
    """The schema as plain JSON data (not parsed by fastavro); do not mutate it."""
    data: dict[str, Any] = json.loads(_raw_text(stem))
    return data


@cache
def schema_text(stem: str) -> str:
    """The schema as compact JSON: the exact text registered with and looked up in the registry.

    Compact and deterministic so that every producer and the CLI send byte-identical text and
    a registry that compares strings still finds the same id.
    """
    return json.dumps(schema_dict(stem), separators=(",", ":"), ensure_ascii=False)


@cache
def load_schema(stem: str) -> dict[str, Any]:
    """The schema parsed by fastavro (named types resolved), cached; do not mutate it."""
    return cast(dict[str, Any], parse_schema(json.loads(_raw_text(stem))))


def subjects() -> tuple[tuple[str, str], ...]:
    """(subject, schema stem) for every topic with an Avro value, in catalog order."""
    return tuple(
        (value_subject(spec.name), spec.value_schema)
        for spec in CATALOG
        if spec.value_schema is not None
    )
