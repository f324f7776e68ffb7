"""ProcessorSettings: sane local defaults, env and TOML overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import catalog
from stream_processors.rules import EngineOptions
from stream_processors.runtime import ProcessorSettings
from stream_processors.runtime.kafka import consumer_config, producer_config
from vidsight.errors import ConfigError
from vidsight.settings import load


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDSIGHT_DATA_DIR", str(tmp_path))  # no stack.json there


def test_defaults_follow_the_catalog_and_the_local_broker() -> None:
    s = load(ProcessorSettings)
    assert s.group_id == "vidsight-processor"
    assert s.topics.detections == catalog.DETECTIONS
    assert s.topics.changelog == catalog.PROCESSOR_CHANGELOG
    assert s.metrics_port is None  # no metrics endpoint unless asked for
    assert s.engine_options() == EngineOptions()
    conf = consumer_config(s)
    assert conf["fetch.wait.max.ms"] == 10 and conf["enable.auto.commit"] is False
    assert conf["partition.assignment.strategy"] == "range"
    prod = producer_config(s)
    assert prod["linger.ms"] == 5.0 and prod["acks"] == "all"
    assert prod["enable.idempotence"] is False
    assert prod["max.in.flight.requests.per.connection"] == 1


def test_env_overrides_nested_topics_and_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDSIGHT_TOPICS__ALERTS", "shadow.alerts")
    monkeypatch.setenv("VIDSIGHT_ENGINE", '{"track_ttl_s": 5, "median_threshold": 0.4}')
    monkeypatch.setenv("VIDSIGHT_METRICS_PORT", "9109")
    s = load(ProcessorSettings)
    assert s.topics.alerts == "shadow.alerts" and s.topics.sensor_events == catalog.SENSOR_EVENTS
    assert s.engine_options().track_ttl_s == 5 and s.engine_options().median_threshold == 0.4
    assert s.metrics_port == 9109


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "vidsight.toml"
    path.write_text('group_id = "blue"\n[topics]\nfeedback = "f2"\n[engine]\nfp_iou = 0.5\n')
    s = load(ProcessorSettings, config_file=path)
    assert (s.group_id, s.topics.feedback, s.engine_options().fp_iou) == ("blue", "f2", 0.5)


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("VIDSIGHT_ENGINE", '{"nope": 1}', "engine.*unknown rules option.*hysteresis"),
        ("VIDSIGHT_ENGINE", '{"fp_iou": 2}', "engine.*fp_iou: must be within"),
        ("VIDSIGHT_TOPICS__ALERTS", catalog.DETECTIONS, "nine different topics"),
        ("VIDSIGHT_TOPICS__DLQ", "bad topic!", "topics.dlq"),
        ("VIDSIGHT_POLL_TIMEOUT_S", "0", "poll_timeout_s"),
        ("VIDSIGHT_METRICS_PORT", "70000", "metrics_port"),
    ],
)
def test_bad_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=message):
        load(ProcessorSettings)


def test_settings_are_frozen_and_every_field_is_described() -> None:
    s = load(ProcessorSettings)
    with pytest.raises(ValueError, match="frozen"):
        s.group_id = "x"  # type: ignore[misc]
    for name, field in ProcessorSettings.model_fields.items():
        assert field.description, name
