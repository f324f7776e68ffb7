"""Credentials of the local stack: generated once, kept 0600, a configured value wins."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from infra.stack import secrets as sec
from infra.stack.settings import StackEndpoints, StackSettings
from vidsight.errors import ConfigError
from vidsight.settings import load


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("VIDSIGHT_"):
            monkeypatch.delenv(key)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_once_kept_private_and_read_by_every_client(tmp_path: Path) -> None:
    first = sec.ensure_secrets(StackSettings(data_dir=tmp_path), tmp_path)
    folder = tmp_path / "secrets"
    assert _mode(folder) == 0o700
    files = sorted(p.name for p in folder.iterdir())
    assert files == [
        "clickhouse_etl_password",
        "clickhouse_password",
        "console_password",
        "console_session_secret",
        "postgres_password",
        "registry_password",
        "registry_user",
        "s3_secret_key",
    ]
    assert all(_mode(p) == 0o600 for p in folder.iterdir())
    password = first.clickhouse_password.get_secret_value()
    assert len(password) >= 24
    assert first.s3_secret_key.get_secret_value() != "vidsight-local-secret"
    again = sec.ensure_secrets(StackSettings(data_dir=tmp_path), tmp_path)
    assert again.clickhouse_password.get_secret_value() == password, "stable across ups"
    client = load(StackEndpoints, data_dir=tmp_path)
    assert client.clickhouse_password.get_secret_value() == password
    assert client.registry_auth() == ("vidsight", first.registry_password.get_secret_value())
    conf = client.registry_client_config()
    assert conf["basic.auth.user.info"].startswith("vidsight:")


def test_a_configured_secret_wins_and_is_written_for_the_clients(tmp_path: Path) -> None:
    mine = StackSettings(data_dir=tmp_path, clickhouse_password=SecretStr("chosen-by-me"))
    assert sec.ensure_secrets(mine, tmp_path).clickhouse_password.get_secret_value() == (
        "chosen-by-me"
    )
    assert (tmp_path / "secrets" / "clickhouse_password").read_text().strip() == "chosen-by-me"


def test_a_readable_secret_file_is_tightened(tmp_path: Path) -> None:
    sec.ensure_secrets(StackSettings(data_dir=tmp_path), tmp_path)
    leaked = tmp_path / "secrets" / "registry_password"
    leaked.chmod(0o644)
    sec.ensure_secrets(StackSettings(data_dir=tmp_path), tmp_path)
    assert _mode(leaked) == 0o600


def test_env_wins_over_the_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sec.ensure_secrets(StackSettings(data_dir=tmp_path), tmp_path)
    monkeypatch.setenv("VIDSIGHT_CLICKHOUSE_PASSWORD", "from-env")
    client = load(StackEndpoints, data_dir=tmp_path)
    assert client.clickhouse_password.get_secret_value() == "from-env"


def test_unreadable_secret_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "secrets" / "clickhouse_password").mkdir(parents=True)
    with pytest.raises(ConfigError, match="clickhouse_password"):
        load(StackEndpoints, data_dir=tmp_path)


def test_console_secrets_generated_once_and_read_by_the_console(tmp_path: Path) -> None:
    from vidsight.console.settings import ConsoleSettings
    from vidsight.settings import load

    sec.ensure_secrets(StackSettings(data_dir=tmp_path), tmp_path)
    folder = tmp_path / "secrets"
    password = (folder / "console_password").read_text().strip()
    key = (folder / "console_session_secret").read_text().strip()
    assert len(password) >= 20 and len(key) >= 40
    sec.ensure_secrets(StackSettings(data_dir=tmp_path), tmp_path)
    assert (folder / "console_password").read_text().strip() == password
    console = load(ConsoleSettings, data_dir=tmp_path)
    assert console.console_password.get_secret_value() == password
    assert console.console_session_secret.get_secret_value() == key
