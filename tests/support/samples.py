"""Deterministic sample events (for the tests and the sink benchmarks).

``scene(n_cameras, frames, seed)`` builds a consistent little world: camera and sensor
definitions, detections with tracked objects, the sensor events and alert lifecycles they
would cause, and operator feedback, all with the deterministic ids of ``schemas.records.ids``.
``publish`` produces records to their topics, keyed as the catalog says.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas import catalog
from schemas.records import (
    Alert,
    AlertLifecycle,
    AvroRecord,
    BBox,
    CameraConfig,
    CrossingDirection,
    DetectedObject,
    Detections,
    DetectorKind,
    DetectorSpec,
    Feedback,
    Point,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Severity,
    Verdict,
    alert_id,
    detections_event_id,
    feedback_id,
    sensor_event_id,
)
from sinks.errors import SinkError
from vidsight.settings import Endpoints

log = logging.getLogger(__name__)

T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
LABELS = ("person", "car", "bicycle", "truck")


@dataclass(slots=True)
class Scene:
    """Records of every projected topic, each list in publish order."""

    cameras: list[CameraConfig] = field(default_factory=list)
    sensors: list[SensorConfig] = field(default_factory=list)
    detections: list[Detections] = field(default_factory=list)
    sensor_events: list[SensorEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)

    def by_topic(self) -> list[tuple[str, Sequence[AvroRecord]]]:
        """(topic, records) for every topic, configuration first."""
        return [
            (catalog.CONFIG_CAMERAS, self.cameras),
            (catalog.CONFIG_SENSORS, self.sensors),
            (catalog.DETECTIONS, self.detections),
            (catalog.SENSOR_EVENTS, self.sensor_events),
            (catalog.ALERTS, self.alerts),
            (catalog.FEEDBACK, self.feedback),
        ]

    def final_alerts(self) -> dict[str, Alert]:
        """Each alert's latest message (highest revision): what a store keeps per alert."""
        latest: dict[str, Alert] = {}
        for a in self.alerts:
            if a.alert_id not in latest or latest[a.alert_id].revision < a.revision:
                latest[a.alert_id] = a
        return latest

    def alert_states(self) -> list[tuple[str, int, int]]:
        """(lifecycle, revision, alerts) of the final states, sorted."""
        counts: dict[tuple[str, int], int] = {}
        for a in self.final_alerts().values():
            key = (a.lifecycle.value, a.revision)
            counts[key] = counts.get(key, 0) + 1
        return sorted((k[0], k[1], n) for k, n in counts.items())

    @property
    def object_count(self) -> int:
        """Objects over all detections (ClickHouse detections rows)."""
        return sum(len(d.objects) for d in self.detections)


def scene(
    n_cameras: int = 4,
    frames: int = 100,
    *,
    seed: int = 7,
    objects_per_frame: int = 3,
    start_us: int = T0_US,
    frame_step_us: int = 200_000,
    prefix: str = "",
) -> Scene:
    """A deterministic scene: ``frames`` analysed frames per camera and what they cause.

    ``prefix`` starts every camera id, so scenes published side by side stay apart.
    """
    rng = random.Random(seed)
    out = Scene()
    for c in range(n_cameras):
        cam = f"{prefix}cam-{c:03d}"
        out.cameras.append(
            CameraConfig(
                camera_id=cam,
                name=f"Camera {c}",
                source=f"synthetic:walk-{c}",
                fps=5.0,
                detector=DetectorSpec(kind=DetectorKind.MOTION, options={"min_area": 0.002}),
                updated_ts=start_us,
            )
        )
        line, zone = f"{cam}-line", f"{cam}-yard"
        out.sensors.append(
            SensorConfig(
                sensor_id=line,
                camera_id=cam,
                kind=SensorKind.TRIPWIRE,
                points=(Point(0.5, 0.0), Point(0.5, 1.0)),
                labels=("person", "car"),
                updated_ts=start_us,
            )
        )
        out.sensors.append(
            SensorConfig(
                sensor_id=zone,
                camera_id=cam,
                kind=SensorKind.ZONE,
                points=(Point(0.1, 0.1), Point(0.9, 0.1), Point(0.9, 0.9), Point(0.1, 0.9)),
                severity=Severity.HIGH,
                updated_ts=start_us,
            )
        )
        for f in range(frames):
            ts = start_us + f * frame_step_us
            objects = []
            for k in range(1 + rng.randrange(objects_per_frame)):
                x = rng.random() * 0.8
                y = rng.random() * 0.8
                objects.append(
                    DetectedObject(
                        track_id=c * 1000 + (f // 10) * 10 + k,
                        label=LABELS[(f // 10 + k) % len(LABELS)],
                        score=round(0.5 + rng.random() / 2, 4),
                        bbox=BBox(x, y, x + 0.1, y + 0.2),
                    )
                )
            uri = f"s3://vidsight/evidence/{cam}/{ts}.jpg"
            out.detections.append(
                Detections(
                    event_id=detections_event_id(cam, ts, f),
                    camera_id=cam,
                    frame_ts=ts,
                    seq=f,
                    model="motion",
                    objects=tuple(objects),
                    evidence_uri=uri,
                )
            )
            if f % 10 == 5:
                obj = objects[0]
                direction = CrossingDirection.A_TO_B if f % 20 == 5 else CrossingDirection.B_TO_A
                out.sensor_events.append(
                    SensorEvent(
                        event_id=sensor_event_id(
                            cam, line, "line_cross", ts, obj.track_id, direction=direction
                        ),
                        camera_id=cam,
                        sensor_id=line,
                        kind=SensorEventKind.LINE_CROSS,
                        direction=direction,
                        track_id=obj.track_id,
                        label=obj.label,
                        score=obj.score,
                        ts=ts,
                        anchor=obj.bbox.anchor,
                        bbox=obj.bbox,
                        frame_seq=f,
                        evidence_uri=uri,
                    )
                )
            if f % 10 == 0:
                obj = objects[0]
                out.sensor_events.append(
                    SensorEvent(
                        event_id=sensor_event_id(cam, zone, "zone_enter", ts, obj.track_id),
                        camera_id=cam,
                        sensor_id=zone,
                        kind=SensorEventKind.ZONE_ENTER,
                        track_id=obj.track_id,
                        label=obj.label,
                        score=obj.score,
                        ts=ts,
                        anchor=obj.bbox.anchor,
                        bbox=obj.bbox,
                        frame_seq=f,
                        evidence_uri=uri,
                    )
                )
            if f % 25 == 0:
                # A camera's last alert is still open at the end of the scene.
                still_open = f + 25 >= frames
                _alert_lifecycle(out, cam, zone, ts=ts, obj=objects[0], f=f, still_open=still_open)
    return out


def _alert_lifecycle(
    out: Scene,
    cam: str,
    sensor: str,
    *,
    ts: int,
    obj: DetectedObject,
    f: int,
    still_open: bool = False,
) -> None:
    aid = alert_id(cam, sensor, ts)
    steps: tuple[AlertLifecycle, ...] = (
        AlertLifecycle.NEW,
        AlertLifecycle.UPDATE,
        AlertLifecycle.END,
    )
    if still_open:
        steps = steps[:2]
    for rev, step in enumerate(steps):
        updated = ts + rev * 1_000_000
        out.alerts.append(
            Alert(
                alert_id=aid,
                camera_id=cam,
                sensor_id=sensor,
                kind=SensorEventKind.ZONE_ENTER,
                rule=SensorKind.ZONE,
                lifecycle=step,
                revision=rev,
                severity=Severity.HIGH,
                label=obj.label,
                top_score=obj.score + rev * 0.01,
                start_ts=ts,
                end_ts=updated if step is AlertLifecycle.END else None,
                updated_ts=updated,
                evidence_uri=f"s3://vidsight/evidence/{cam}/{ts}.jpg",
                track_ids=(obj.track_id,),
                event_count=rev + 1,
                bbox=obj.bbox,
            )
        )
    if f % 50 == 0:
        when = ts + 5_000_000
        out.feedback.append(
            Feedback(
                feedback_id=feedback_id(aid, "olga", when),
                alert_id=aid,
                camera_id=cam,
                sensor_id=sensor,
                verdict=Verdict.FALSE_POSITIVE if f % 100 == 0 else Verdict.TRUE_POSITIVE,
                operator="olga",
                ts=when,
                note=None,
                boxes=(obj.bbox,),
            )
        )


def message_key(topic: str, record: AvroRecord) -> bytes:
    """The Kafka key of a record on its topic (``TopicSpec.key`` names the field)."""
    value = getattr(record, catalog.topic(topic).key)
    return str(value).encode()


def publish(
    endpoints: Endpoints,
    topic: str,
    records: Iterable[AvroRecord],
    *,
    timeout_s: float = 60.0,
) -> int:
    """Produce records to a topic (acks=all); returns how many were delivered."""
    from confluent_kafka import Producer

    from schemas.serde import Serde

    codec = Serde.for_registry(endpoints).topic(topic)
    producer = Producer(
        endpoints.kafka_client_config(
            acks="all", **{"linger.ms": 5, "logger": logging.getLogger("rdkafka.samples")}
        )
    )
    count = 0
    for record in records:
        while True:
            try:
                producer.produce(topic, key=message_key(topic, record), value=codec.encode(record))
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
        producer.poll(0)
    left = producer.flush(timeout_s)
    if left:
        raise SinkError(f"{left} records to {topic} not delivered in {timeout_s}s")
    return count
