"""`vidsight alerts tail`: one readable line per alert state, or one JSON object per line."""

from __future__ import annotations

import json
from dataclasses import replace

from schemas.catalog import schema_dict
from schemas.records import (
    Alert,
    AlertLifecycle,
    BBox,
    CrossingDirection,
    SensorEventKind,
    SensorKind,
    Severity,
)
from stream_processors.tail import HEADER, alert_json, format_alert, format_time, timestamp_fields

ALERT = Alert(
    alert_id="6f1d2c1e-0000-5000-8000-000000000001",
    camera_id="gate-1",
    sensor_id="gate-1-line",
    kind=SensorEventKind.LINE_CROSS,
    rule=SensorKind.TRIPWIRE,
    lifecycle=AlertLifecycle.NEW,
    severity=Severity.HIGH,
    label="person",
    top_score=0.91234,
    start_ts=1_700_000_000_000_000,
    updated_ts=1_700_000_003_120_000,
    evidence_uri="s3://vidsight/evidence/gate-1/2023/11/14/22/1700000003120000.jpg",
    track_ids=(3,),
    event_count=1,
    direction=CrossingDirection.A_TO_B,
    bbox=BBox(0.1, 0.2, 0.3, 0.4),
)


def test_time_is_utc_with_milliseconds() -> None:
    assert format_time(1_700_000_003_120_999) == "2023-11-14 22:13:23.120Z"


def test_readable_line_has_every_column_an_operator_needs() -> None:
    line = format_alert(ALERT)
    assert line == (
        "2023-11-14 22:13:23.120Z  6f1d2c1e-0000-5000-8000-000000000001  gate-1  gate-1-line  "
        "tripwire/line_cross  person  NEW     "
        "0.91  high  s3://vidsight/evidence/gate-1/2023/11/14/22/1700000003120000.jpg"
    )
    assert HEADER.split()[:4] == ["updated", "(UTC)", "alert", "id"]
    assert HEADER.index("alert id") == line.index(ALERT.alert_id), "columns line up"


def test_missing_evidence_shows_a_dash() -> None:
    ended = replace(ALERT, lifecycle=AlertLifecycle.END, evidence_uri=None, end_ts=1)
    assert format_alert(ended).endswith("  END     0.91  high  -")


def test_json_line_uses_the_avro_field_names_and_values() -> None:
    line = alert_json(ALERT.to_avro())
    assert "\n" not in line
    data = json.loads(line)
    assert list(data) == [
        "alert_id", "camera_id", "sensor_id", "kind", "rule", "lifecycle", "revision",
        "severity", "label", "top_score", "start_ts", "end_ts", "updated_ts", "evidence_uri",
        "track_ids", "event_count", "direction", "bbox",
    ]  # fmt: skip
    assert data["lifecycle"] == "new" and data["direction"] == "a_to_b"
    assert data["start_ts"] == 1_700_000_000_000_000 and data["end_ts"] is None
    assert data["bbox"] == {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4}


def test_json_times_are_iso_8601_utc_with_the_avro_names() -> None:
    times = timestamp_fields(schema_dict("Alert"))
    assert times == {"start_ts", "end_ts", "updated_ts"}
    ended = replace(ALERT, end_ts=1_700_000_004_000_001)
    data = json.loads(alert_json(ended.to_avro(), times))
    assert data["start_ts"] == "2023-11-14T22:13:20.000000Z"
    assert data["updated_ts"] == "2023-11-14T22:13:23.120000Z"
    assert data["end_ts"] == "2023-11-14T22:13:24.000001Z"
    assert json.loads(alert_json(ALERT.to_avro(), times))["end_ts"] is None
