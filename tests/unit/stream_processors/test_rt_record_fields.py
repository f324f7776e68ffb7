"""The record fields the rules core asked for: SensorConfig.score_threshold and .timezone,
Feedback.label; and records written before them still decode (with the null defaults)."""

from __future__ import annotations

import copy
import dataclasses
import json
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from sp_helpers import CAM, Feed, events, feedback, make_engine, obj, schedule, tripwire, zone

from schemas import catalog
from schemas.records import BBox, Feedback, Point, SensorConfig, SensorEventKind, SensorKind
from schemas.serde import InMemorySchemaResolver, Serde
from stream_processors.config import parse_sensors_yaml
from stream_processors.errors import SensorConfigError
from stream_processors.rules.validate import check_sensor

ENTER = SensorEventKind.ZONE_ENTER
CROSS = SensorEventKind.LINE_CROSS


def entered(feed: Feed) -> list[int | None]:
    return [e.track_id for e in events(feed.outputs, ENTER)]


def counts(feed: Feed) -> list[int | None]:
    return [e.count for e in events(feed.outputs, CROSS)]


# -- score_threshold -------------------------------------------------------------------------


def test_score_threshold_replaces_min_score_for_the_median() -> None:
    feed = Feed(make_engine(zone(min_score=0.1, score_threshold=0.8)))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.7))
    assert entered(feed) == [] and feed.engine.counters.median_score == 1
    for i in range(1, 4):
        feed.at(i * 0.2, obj(1, 0.5, 0.5, score=0.95))
    assert entered(feed) == [1]


def test_score_threshold_wins_over_the_engine_option() -> None:
    feed = Feed(make_engine(zone(score_threshold=0.2), median_threshold=0.9))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.5))
    assert entered(feed) == [1]


def test_null_score_threshold_keeps_min_score() -> None:
    feed = Feed(make_engine(zone(min_score=0.5)))
    feed.at(0.0, obj(1, 0.5, 0.5, score=0.6))
    assert entered(feed) == [1]


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_score_threshold_out_of_range_is_rejected(value: float) -> None:
    with pytest.raises(SensorConfigError, match=r"score_threshold: must be within 0\.\.1"):
        check_sensor(zone(score_threshold=value))


# -- timezone --------------------------------------------------------------------------------


def test_timezone_sets_the_day_of_counts_without_a_schedule() -> None:
    # T0 is 22:13 UTC = 07:13 next day in Tokyo; two hours later is the same Tokyo day but
    # the next UTC day, so UTC counting would restart at 1.
    tokyo = Feed(make_engine(tripwire(timezone="Asia/Tokyo")))
    utc = Feed(make_engine(tripwire()))
    for feed in (tokyo, utc):
        feed.walk(1, [(0.3, 0.5), (0.7, 0.5)])
        feed.walk(2, [(0.3, 0.5), (0.7, 0.5)], start=2 * 3600)
    assert counts(tokyo) == [1, 2]
    assert counts(utc) == [1, 1]


def test_timezone_wins_over_the_schedule_timezone_for_counts() -> None:
    cfg = tripwire(schedule=schedule(tz="UTC"), timezone="Asia/Tokyo")
    feed = Feed(make_engine(cfg))
    feed.walk(1, [(0.3, 0.5), (0.7, 0.5)])
    feed.walk(2, [(0.3, 0.5), (0.7, 0.5)], start=2 * 3600)
    assert counts(feed) == [1, 2]


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(SensorConfigError, match="timezone: unknown IANA timezone 'Mars/Base'"):
        check_sensor(tripwire(timezone="Mars/Base"))


# -- Feedback.label --------------------------------------------------------------------------


def test_feedback_label_limits_suppression_of_an_unknown_alert_to_that_label() -> None:
    feed = Feed(make_engine(zone()))
    verdict = dataclasses.replace(
        feedback("not-remembered", boxes=(BBox(0.45, 0.3, 0.55, 0.5),)), label="car"
    )
    feed.engine.on_feedback(verdict)
    feed.at(0.0, obj(1, 0.5, 0.5, label="car"), obj(2, 0.5, 0.5, label="person"))
    assert entered(feed) == [2]
    assert feed.engine.counters.learned_fp == 1


def test_feedback_without_label_still_suppresses_every_label() -> None:
    feed = Feed(make_engine(zone()))
    feed.engine.on_feedback(feedback("x", boxes=(BBox(0.45, 0.3, 0.55, 0.5),)))
    feed.at(0.0, obj(1, 0.5, 0.5, label="car"), obj(2, 0.5, 0.5, label="person"))
    assert entered(feed) == []


# -- YAML ------------------------------------------------------------------------------------


def test_yaml_reads_score_threshold_and_timezone() -> None:
    text = """\
sensors:
  - id: s1
    camera: cam-1
    kind: tripwire
    points: [[0.5, 0.0], [0.5, 1.0]]
    score_threshold: 0.6
    timezone: Europe/Paris
  - id: s2
    camera: cam-1
    kind: zone
    points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
"""
    s1, s2 = parse_sensors_yaml(text, updated_ts=1)
    assert (s1.score_threshold, s1.timezone) == (0.6, "Europe/Paris")
    assert (s2.score_threshold, s2.timezone) == (None, None)


def test_yaml_bad_timezone_names_the_line() -> None:
    text = """\
sensors:
  - id: s1
    camera: cam-1
    kind: tripwire
    points: [[0.5, 0.0], [0.5, 1.0]]
    timezone: Nowhere/Town
"""
    with pytest.raises(SensorConfigError, match=r"^x.yaml:6: sensor 's1': timezone: unknown"):
        parse_sensors_yaml(text, updated_ts=1, source="x.yaml")


# -- schema evolution ------------------------------------------------------------------------


def _encode_with_old_schema(stem: str, drop: tuple[str, ...], datum: dict[str, Any]) -> Any:
    resolver = InMemorySchemaResolver()
    old = copy.deepcopy(dict(catalog.schema_dict(stem)))
    old["fields"] = [f for f in old["fields"] if f["name"] not in drop]
    schema_id = resolver.add(json.dumps(old))
    buf = BytesIO(b"\x00" + schema_id.to_bytes(4, "big"))
    buf.seek(5)
    schemaless_writer(buf, parse_schema(old), {k: v for k, v in datum.items() if k not in drop})
    return resolver, buf.getvalue()


def test_sensor_config_written_before_the_new_fields_decodes_with_nulls() -> None:
    cfg = SensorConfig(
        sensor_id="s",
        camera_id=CAM,
        kind=SensorKind.TRIPWIRE,
        points=(Point(0.5, 0.0), Point(0.5, 1.0)),
        updated_ts=5,
        score_threshold=0.7,
        timezone="UTC",
    )
    resolver, data = _encode_with_old_schema(
        "SensorConfig", ("score_threshold", "timezone"), cfg.to_avro()
    )
    decoded = Serde(resolver).topic(catalog.CONFIG_SENSORS, SensorConfig).decode(data)
    assert decoded == dataclasses.replace(cfg, score_threshold=None, timezone=None)


def test_feedback_written_before_label_decodes_with_null_label() -> None:
    fb = dataclasses.replace(feedback("a"), label="person")
    resolver, data = _encode_with_old_schema("Feedback", ("label",), fb.to_avro())
    decoded = Serde(resolver).topic(catalog.FEEDBACK, Feedback).decode(data)
    assert decoded == dataclasses.replace(fb, label=None)


def test_new_fields_round_trip() -> None:
    serde = Serde(InMemorySchemaResolver())
    fb = dataclasses.replace(feedback("a"), label="car")
    codec = serde.topic(catalog.FEEDBACK, Feedback)
    assert codec.decode(codec.encode(fb)) == fb
    cfg = tripwire(score_threshold=0.4, timezone="Europe/Paris")
    sensors = serde.topic(catalog.CONFIG_SENSORS, SensorConfig)
    assert sensors.decode(sensors.encode(cfg)) == cfg
