"""The stack's Dagster instance file: valid for the installed dagster, PostgreSQL storage by env."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.stack import dagster_parts as dp


def test_instance_file_validates_with_postgres_storage_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.instance.config import dagster_instance_config

    monkeypatch.setenv(dp.PG_URL_ENV, "postgresql+psycopg2://u:s3cret@127.0.0.1:1/dagster")
    dp.write_instance_file(tmp_path)
    text = (tmp_path / "dagster.yaml").read_text()
    assert "s3cret" not in text and "postgresql" not in text, "the URL is never in the file"
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    assert config["storage"]["postgres"]["postgres_url"] == {"env": dp.PG_URL_ENV}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_coordinator"]["config"]["max_concurrent_runs"] == 2
    assert config["auto_materialize"]["enabled"] is True
    assert config["telemetry"] == {"enabled": False}
    assert config["nux"] == {"enabled": False}


def test_instance_database_per_data_dir_on_a_shared_server() -> None:
    assert dp.dagster_database("vidsight", external=False) == "dagster"
    assert dp.dagster_database("vidsight_1a2b3c4d", external=True) == "vidsight_1a2b3c4d_dagster"


def test_sqlalchemy_url_names_psycopg2() -> None:
    assert (
        dp.sqlalchemy_url("postgresql://postgres:p%40w@127.0.0.1:5432/dagster?sslmode=require")
        == "postgresql+psycopg2://postgres:p%40w@127.0.0.1:5432/dagster?sslmode=require"
    )
    assert dp.sqlalchemy_url("postgres://h/d") == "postgresql+psycopg2://h/d"
    with pytest.raises(ValueError):
        dp.sqlalchemy_url("mysql://h/d")


def test_unhealthy_daemons_are_the_required_ones_without_heartbeat() -> None:
    statuses = [
        {"daemonType": "SCHEDULER", "required": True, "healthy": True},
        {"daemonType": "SENSOR", "required": True, "healthy": False},
        {"daemonType": "QUEUED_RUN_COORDINATOR", "required": True, "healthy": None},
        {"daemonType": "BACKFILL", "required": False, "healthy": None},
    ]
    assert dp.unhealthy_daemons(statuses) == ["QUEUED_RUN_COORDINATOR", "SENSOR"]
    assert dp.unhealthy_daemons(statuses[:1]) == []
    assert dp.unhealthy_daemons([]) == ["(no daemon heartbeat yet)"]


def test_parts_put_no_secret_on_the_command_line(tmp_path: Path) -> None:
    from infra.stack.settings import StackSettings

    url = "postgresql+psycopg2://postgres:s3cret@127.0.0.1:1/dagster"
    settings = StackSettings(data_dir=tmp_path)
    for build in (dp.webserver_part, dp.daemon_part):
        part = build(settings, tmp_path, {}, url)
        assert not any("s3cret" in arg for arg in part.launch_command())
        assert part.env[dp.PG_URL_ENV] == url
        assert part.env["DAGSTER_HOME"] == str(tmp_path / "dagster")
        assert "dev" not in part.command, "no `dagster dev` (its warning, its SQLite)"
