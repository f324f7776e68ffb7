"""``readmodels run``: options reach the settings; bad settings fail with the key named."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from stream_processors.readmodels import runner
from stream_processors.readmodels.cli import readmodels_group
from stream_processors.readmodels.settings import ReadModelSettings
from vidsight.errors import ConfigError


def test_run_builds_settings_from_options_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ReadModelSettings] = []
    monkeypatch.setattr(runner, "run_worker", seen.append)
    monkeypatch.setenv("VIDSIGHT_SESSION_TIMEOUT_S", "3")
    result = CliRunner().invoke(
        readmodels_group,
        ["run", "--data-dir", str(tmp_path), "--web-port", "7123", "--app-id", "rm-cli"],
    )
    assert result.exit_code == 0, result.output
    (settings,) = seen
    assert (settings.web_port, settings.app_id, settings.session_timeout_s) == (7123, "rm-cli", 3)
    assert settings.data_dir == tmp_path


def test_bad_settings_name_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "run_worker", lambda s: None)
    monkeypatch.setenv("VIDSIGHT_PRODUCER_MAX_BATCH_BYTES", "0")
    result = CliRunner().invoke(readmodels_group, ["run", "--data-dir", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    assert "producer_max_batch_bytes" in str(result.exception)


def test_help_lists_the_endpoints() -> None:
    result = CliRunner().invoke(readmodels_group, ["run", "--help"])
    assert result.exit_code == 0
    assert "/state/occupancy" in result.output and "--web-port" in result.output


def test_the_root_groups_config_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ReadModelSettings] = []
    monkeypatch.setattr(runner, "run_worker", seen.append)
    config = tmp_path / "vidsight.toml"
    config.write_text("web_port = 7777\ncrossings_keep_days = 7\n")

    @click.group()
    @click.pass_context
    def root(ctx: click.Context) -> None:  # what vidsight's main puts in ctx.obj
        ctx.obj = {"config": config}

    root.add_command(readmodels_group)
    result = CliRunner().invoke(root, ["readmodels", "run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (seen[0].web_port, seen[0].crossings_keep_days) == (7777, 7)
