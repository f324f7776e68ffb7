"""The speed sensor kind in the stores: its sensor fields in PostgreSQL, speeds in ClickHouse."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from test_sink_env import isolated

from schemas import catalog
from schemas.records import (
    BBox,
    CrossingDirection,
    DirectionFilter,
    Point,
    SensorConfig,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    sensor_event_id,
)
from schemas.registration import register_all
from sinks.runner import RunOptions
from sinks.service import run_sinks
from tests.support import samples

pytestmark = pytest.mark.integration

TS = 1_700_000_000_000_000


def test_speed_sensors_and_their_events_reach_postgres_and_clickhouse(catalog_topics: Any) -> None:
    register_all(catalog_topics.endpoints)
    tag = f"sp{uuid.uuid4().hex[:6]}"
    camera = f"{tag}-road"
    sensor = SensorConfig(
        sensor_id=f"{camera}-speed",
        camera_id=camera,
        kind=SensorKind.SPEED,
        points=(Point(0.3, 0.0), Point(0.3, 1.0), Point(0.7, 0.0), Point(0.7, 1.0)),
        direction=DirectionFilter.A_TO_B,
        updated_ts=TS,
        distance_m=25.0,
        speed_kmh_threshold=40.0,
        max_seconds=6.0,
    )
    events = [
        SensorEvent(
            event_id=sensor_event_id(
                camera, sensor.sensor_id, "speed", TS + i, i, direction="a_to_b"
            ),
            camera_id=camera,
            sensor_id=sensor.sensor_id,
            kind=SensorEventKind.SPEED,
            direction=CrossingDirection.A_TO_B,
            track_id=i,
            label="car",
            score=0.9,
            ts=TS + i,
            dwell_s=25.0 / kmh * 3.6,
            anchor=Point(0.72, 0.6),
            bbox=BBox(0.68, 0.4, 0.76, 0.6),
            frame_seq=i,
            speed_kmh=kmh,
        )
        for i, kmh in enumerate((22.5, 56.25))
    ]
    samples.publish(catalog_topics.endpoints, catalog.CONFIG_SENSORS, [sensor])
    samples.publish(catalog_topics.endpoints, catalog.SENSOR_EVENTS, events)
    p = isolated(catalog_topics, tag)
    result = run_sinks(
        ["postgres", "clickhouse"], p.settings, options=RunOptions(exit_when_idle_s=3)
    )
    assert result.errors == {}
    with p.pg() as conn:
        row = conn.execute(
            "SELECT kind, direction, distance_m, speed_kmh_threshold, max_seconds, seconds "
            "FROM sensors WHERE sensor_id = %s",
            (sensor.sensor_id,),
        ).fetchone()
    assert row == ("speed", "a_to_b", 25.0, 40.0, 6.0, None)
    rows = p.ch(
        f"SELECT track_id, kind, direction, speed_kmh FROM sensor_events FINAL "
        f"WHERE camera_id = '{camera}' ORDER BY track_id"
    )
    assert rows == [(0, "speed", "a_to_b", 22.5), (1, "speed", "a_to_b", 56.25)]
