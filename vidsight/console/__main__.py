"""``python -m vidsight.console``: the console without the rest of the CLI."""

from vidsight.console.cli import console_command

console_command(prog_name="vidsight console")
