"""ReadModelSettings: defaults for the local broker, env vars, and readable errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stream_processors.readmodels.settings import ReadModelSettings
from vidsight.errors import ConfigError
from vidsight.settings import load


def test_defaults_suit_the_local_broker(tmp_path: Path) -> None:
    s = load(ReadModelSettings, data_dir=tmp_path)
    assert s.producer_max_batch_bytes == 1 and s.producer_linger_s == 0
    assert s.fetch_max_wait_ms < 1500 and s.session_timeout_s <= 10
    assert s.web_url == "http://127.0.0.1:6066"


def test_env_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDSIGHT_WEB_PORT", "7001")
    monkeypatch.setenv("VIDSIGHT_FETCH_MAX_WAIT_MS", "20")
    s = load(ReadModelSettings, data_dir=tmp_path, app_id="rm-x", canonical_url="http://h:1/")
    assert (s.web_port, s.fetch_max_wait_ms, s.app_id) == (7001, 20, "rm-x")
    assert s.web_url == "http://h:1"


def test_stack_file_endpoints_are_used(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text(
        '{"endpoints": {"kafka_bootstrap": "127.0.0.1:19092", "registry_url": "http://x:1"}}'
    )
    s = load(ReadModelSettings, data_dir=tmp_path)
    assert (s.kafka_bootstrap, s.registry_url) == ("127.0.0.1:19092", "http://x:1")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"web_port": 0}, "web_port"),
        ({"app_id": "has space"}, "app_id"),
        ({"fetch_max_wait_ms": 0}, "fetch_max_wait_ms"),
        ({"log_level": "loud"}, "log_level"),
        ({"heartbeat_interval_s": 3.0, "session_timeout_s": 6.0}, "heartbeat_interval_s"),
        ({"crossings_keep_days": 0}, "crossings_keep_days"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load(ReadModelSettings, data_dir=tmp_path, **overrides)


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="web_prot"):
        load(ReadModelSettings, data_dir=tmp_path, web_prot=1)
