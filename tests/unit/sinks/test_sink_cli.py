"""The sinks' commands and settings, without servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from sinks.cli import standalone
from sinks.settings import SinkSettings
from sinks.stores import STORES, build, expand
from vidsight.errors import ConfigError
from vidsight.settings import load


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(standalone, ["--help"])
    assert result.exit_code == 0
    for command in ("sink", "replay", "sql"):
        assert command in result.output


def test_sink_run_takes_a_store_or_all() -> None:
    result = CliRunner().invoke(standalone, ["sink", "run", "oracle"])
    assert result.exit_code == 2
    assert "postgres" in result.output and "all" in result.output


def test_exit_when_idle_must_be_positive() -> None:
    result = CliRunner().invoke(standalone, ["sink", "run", "s3", "--exit-when-idle", "0"])
    assert result.exit_code == 2


def test_replay_needs_a_sink_and_asks_before_dropping(tmp_path: Path) -> None:
    assert CliRunner().invoke(standalone, ["replay"]).exit_code == 2
    result = CliRunner().invoke(
        standalone, ["replay", "--sink", "postgres", "--data-dir", str(tmp_path)], input="n\n"
    )
    assert result.exit_code == 1
    assert "Drop and rebuild the postgres projection" in result.output


def test_sql_format_choices() -> None:
    result = CliRunner().invoke(standalone, ["sql", "SELECT 1", "--format", "xml"])
    assert result.exit_code == 2


def test_all_expands_to_every_store_in_order() -> None:
    assert expand(["all"]) == list(STORES)
    assert expand(["s3", "postgres", "s3"]) == ["postgres", "s3"]
    with pytest.raises(ValueError, match="unknown store"):
        expand(["oracle"])


def test_every_store_builds_without_connecting() -> None:
    settings = SinkSettings()
    sinks = [build(name, settings) for name in STORES]
    assert [s.name for s in sinks] == list(STORES)
    assert all(s.topics for s in sinks)


def test_settings_refuse_unknown_keys_and_bad_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDSIGHT_BATCH_MAX_RECORDS", "0")
    with pytest.raises(ConfigError, match="batch_max_records"):
        load(SinkSettings, data_dir=tmp_path)
    monkeypatch.delenv("VIDSIGHT_BATCH_MAX_RECORDS")
    # With every process kind's settings loaded (as in `vidsight`), a top-level key none of
    # them declares is refused; a process that loaded fewer only skips it with a warning.
    import vidsight.cli  # noqa: F401

    config = tmp_path / "c.toml"
    config.write_text("batch_max_age_s = 0.5\nno_such_key = 1\n")
    with pytest.raises(ConfigError, match="no_such_key"):
        load(SinkSettings, config_file=config, data_dir=tmp_path)


def test_settings_are_frozen_and_described() -> None:
    settings = SinkSettings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.batch_max_records = 3  # type: ignore[misc]
    for name, field in SinkSettings.model_fields.items():
        assert field.description, name
