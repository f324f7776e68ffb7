"""Settings: env prefix, TOML file, stack.json layering, and errors that name the key.

Sections per process kind are tested in test_settings_sections.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.stack.settings import StackEndpoints, StackSettings
from vidsight.errors import ConfigError
from vidsight.settings import Endpoints, load


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("VIDSIGHT_"):
            monkeypatch.delenv(key)


def test_defaults_are_loopback(tmp_path: Path) -> None:
    s = load(StackSettings, data_dir=tmp_path)
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.ports.kafka == 9092
    assert s.host == "127.0.0.1"


def test_env_prefix_and_nested_ports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDSIGHT_PORTS__CLICKHOUSE", "18123")
    monkeypatch.setenv("VIDSIGHT_KAFKA_CONFIG", '{"security.protocol": "SASL_SSL"}')
    s = load(StackSettings, data_dir=tmp_path)
    assert s.ports.clickhouse == 18123
    assert s.kafka_client_config()["security.protocol"] == "SASL_SSL"


def test_toml_file_and_env_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "vidsight.toml"
    cfg.write_text('[vidsight]\nregistry_url = "http://reg:8081"\nkafka_bootstrap = "k1:9092"\n')
    monkeypatch.setenv("VIDSIGHT_KAFKA_BOOTSTRAP", "k2:9092")
    s = load(Endpoints, config_file=cfg, data_dir=tmp_path)
    assert s.registry_url == "http://reg:8081"
    assert s.kafka_bootstrap == "k2:9092", "env beats the file"


def test_stack_file_supplies_endpoints(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text(
        json.dumps({"endpoints": {"kafka_bootstrap": "127.0.0.1:19092", "unknown": "x"}})
    )
    assert load(Endpoints, data_dir=tmp_path).kafka_bootstrap == "127.0.0.1:19092"


@pytest.mark.parametrize(
    ("env", "value", "key"),
    [
        ("VIDSIGHT_STACK_PORTS__KAFKA", "70000", "ports.kafka"),
        ("VIDSIGHT_KAFKA_BOOTSTRAP", "no-port", "kafka_bootstrap"),
        ("VIDSIGHT_REGISTRY_URL", "ftp://x", "registry_url"),
        ("VIDSIGHT_STACK_POSTGRES_DATABASE", "Bad-Name", "postgres_database"),
    ],
)
def test_bad_value_names_key_value_and_rule(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str, value: str, key: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load(StackSettings, data_dir=tmp_path)
    text = str(info.value)
    assert key in text and env in text and value in text


def test_unknown_key_in_file_is_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "v.toml"
    cfg.write_text('kafka_bootstrapp = "x:1"\n')
    with pytest.raises(ConfigError, match="kafka_bootstrapp"):
        load(Endpoints, config_file=cfg, data_dir=tmp_path)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(Endpoints, config_file=tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("= nope")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(Endpoints, config_file=bad)


def test_settings_are_frozen_and_secrets_hidden(tmp_path: Path) -> None:
    s = load(StackSettings, data_dir=tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        s.host = "0.0.0.0"  # type: ignore[misc]
    assert "vidsight-local-secret" not in repr(s)


def test_stack_file_supplies_ports_for_stack_commands(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({"settings": {"ports": {"dagster": 13000}}}))
    assert load(StackSettings, data_dir=tmp_path).ports.dagster == 13000


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::"])
def test_non_loopback_host_refused_without_explicit_consent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str
) -> None:
    monkeypatch.setenv("VIDSIGHT_STACK_HOST", host)
    with pytest.raises(ConfigError) as info:
        load(StackSettings, data_dir=tmp_path)
    assert "host (env VIDSIGHT_STACK_HOST, [stack] in the file)" in str(info.value)
    assert "allow_non_loopback" in str(info.value)
    monkeypatch.setenv("VIDSIGHT_STACK_ALLOW_NON_LOOPBACK", "1")
    assert load(StackSettings, data_dir=tmp_path).host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_hosts_accepted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str
) -> None:
    monkeypatch.setenv("VIDSIGHT_STACK_HOST", host)
    assert load(StackSettings, data_dir=tmp_path).host == host


def test_empty_clickhouse_user_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDSIGHT_CLICKHOUSE_USER", "")
    with pytest.raises(ConfigError) as info:
        load(StackEndpoints, data_dir=tmp_path)
    assert "clickhouse_user (env VIDSIGHT_CLICKHOUSE_USER)" in str(info.value)


def test_bad_kafka_config_does_not_echo_its_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIDSIGHT_KAFKA_CONFIG", '{"sasl.password": ["hunter2-secret"]}')
    with pytest.raises(ConfigError) as info:
        load(Endpoints, data_dir=tmp_path)
    assert "kafka_config" in str(info.value)
    assert "hunter2-secret" not in str(info.value)
