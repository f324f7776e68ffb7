"""Every command says what it does in full, and every option says what it is for."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from vidsight.cli import main


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield " ".join((*path, name)), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_no_description_is_cut_in_any_group_listing() -> None:
    runner = CliRunner()
    groups = [("", main)] + [(n, c) for n, c in _commands(main) if isinstance(c, click.Group)]
    for name, _ in groups:
        result = runner.invoke(main, [*name.split(), "--help"])
        assert result.exit_code == 0, (name, result.output)
        listing = result.output.partition("Commands:")[2]
        assert "..." not in listing, (name, listing)


def test_every_option_has_help() -> None:
    missing = [
        f"vidsight {name} {param.opts[0]}"
        for name, command in _commands(main)
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert missing == []


def test_sql_help_lists_the_tables_and_gives_examples() -> None:
    result = CliRunner().invoke(main, ["sql", "--help"])
    assert result.exit_code == 0
    for table in ("detections", "sensor_events", "alerts", "detections_hourly"):
        assert f"\n    {table} " in result.output, table
    assert "Examples:" in result.output and 'vidsight sql "SELECT' in result.output
