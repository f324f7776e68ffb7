"""Engine options and record-level sensor checks (what arrives on the sensors topic)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sp_helpers import loiter, schedule, tripwire, zone

from schemas.records import DirectionFilter, SensorConfig, SensorKind, Severity
from stream_processors.errors import OptionsError, SensorConfigError
from stream_processors.rules import EngineOptions, check_sensor


def test_defaults_are_valid() -> None:
    opts = EngineOptions()
    assert opts.hysteresis > 0 and opts.track_ttl_s > 0 and opts.frame_lag_s >= 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hysteresis", -0.1, "hysteresis: must be a finite number >= 0"),
        ("track_ttl_s", float("nan"), "track_ttl_s: must be a finite number"),
        ("frame_lag_s", float("inf"), "frame_lag_s: must be a finite number"),
        ("score_history", 0, "score_history: must be at least 1"),
        ("update_every_events", 0, "update_every_events: must be at least 1"),
        ("stationary_iou", 0.0, "stationary_iou: must be within (0, 1]"),
        ("fp_iou", 1.5, "fp_iou: must be within (0, 1]"),
        ("median_threshold", 2.0, "median_threshold: must be within 0..1"),
        ("track_ttl_s", "3", "track_ttl_s: must be a number"),
        ("fp_memory_size", True, "fp_memory_size: must be a number"),
    ],
)
def test_invalid_options_name_the_option(field: str, value: object, message: str) -> None:
    with pytest.raises(OptionsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EngineOptions(**{field: value})  # type: ignore[arg-type]


def test_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        EngineOptions().hysteresis = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "cfg", [zone(), tripwire(), loiter(), zone(schedule=schedule(days=[1, 7], hours=[(0, 1440)]))]
)
def test_valid_records_pass(cfg: SensorConfig) -> None:
    check_sensor(cfg)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (
            replace(zone(), kind=SensorKind.UNKNOWN),
            "kind: unknown kind 'unknown'; allowed: zone, tripwire, loitering, aoi, speed, "
            "video_loss$",
        ),
        (
            replace(zone(), kind=SensorKind.COUNT_ANOMALY),
            "kind: unknown kind 'count_anomaly'; allowed: zone, tripwire, loitering, aoi, "
            "speed, video_loss$",
        ),
        (replace(zone(), severity=Severity.UNKNOWN), "severity: unknown severity"),
        (replace(tripwire(), direction=DirectionFilter.UNKNOWN), "direction: unknown direction"),
        (replace(zone(), sensor_id=""), "id: '' is not a valid id"),
        (replace(zone(), camera_id=""), "camera: '' is not a valid id"),
        (replace(zone(), group_gap_s=float("inf")), "group_gap_s: must be a positive number"),
        (
            zone(schedule=schedule(days=[0])),
            r"schedule.days: ISO weekdays are 1 \(Monday\) .. 7 \(Sunday\)",
        ),
        (
            zone(schedule=schedule(hours=[(1440, 10)])),
            r"hours\[0\]: start minute 1440 not in 0..1439",
        ),
        (zone(schedule=schedule(hours=[(0, 1441)])), r"hours\[0\]: end minute 1441 not in 0..1440"),
        (zone(schedule=schedule(tz="")), "schedule.timezone: unknown IANA timezone"),
        (zone(schedule=schedule(tz="../etc/passwd")), "schedule.timezone: unknown IANA timezone"),
    ],
)
def test_invalid_records_from_the_topic(cfg: SensorConfig, message: str) -> None:
    with pytest.raises(SensorConfigError, match=message):
        check_sensor(cfg)


def test_record_error_names_the_sensor() -> None:
    with pytest.raises(SensorConfigError) as info:
        check_sensor(replace(zone("yard"), min_score=-1.0))
    assert str(info.value) == "sensor 'yard': min_score: must be within 0..1, got -1.0"
    assert (info.value.sensor_id, info.value.field) == ("yard", "min_score")
