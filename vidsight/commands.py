"""The root click group every vidsight program starts from (core: click only).

``vidsight`` and the per-package programs (``python -m sinks``, ``python -m producers``,
``python -m stream_processors.cli``, ``python -m stream_processors.readmodels``) all take
``--config`` and ``-v`` the same way and turn vidsight's own errors into one line on stderr and
exit code 2 instead of a traceback. Commands read the config file with ``config_file(ctx)``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import click

from vidsight.errors import VidsightError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_SETTINGS: dict[str, Any] = {"terminal_width": 100, "max_content_width": 100}


def fail(exc: VidsightError) -> NoReturn:
    """Print a vidsight error as one ``error: ...`` line on stderr and exit 2."""
    click.echo(f"{click.style('error:', fg='red', bold=True)} {exc}", err=True)
    sys.exit(2)


class RootGroup(click.Group):
    """A top-level group whose vidsight errors end the program with ``fail``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VidsightError as exc:
            fail(exc)


def root_group(
    name: str,
    help: str,
    commands: Iterable[click.Command] = (),
    *,
    base_level: int = logging.WARNING,
) -> RootGroup:
    """A root group with ``--config FILE`` and ``-v`` (repeatable), holding ``commands``.

    ``-v`` lowers the log level one step from ``base_level`` (``-vv`` two steps, at most).
    """

    @click.group(name=name, cls=RootGroup, help=help, context_settings=CONTEXT_SETTINGS)
    @click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="TOML settings file (env VIDSIGHT_CONFIG)",
    )
    @click.option("-v", "--verbose", count=True, help="more logging (-vv for debug)")
    @click.pass_context
    def group(ctx: click.Context, config: Path | None, verbose: int) -> None:
        level = max(logging.DEBUG, base_level - 10 * min(verbose, 2))
        logging.basicConfig(level=level, format=LOG_FORMAT)
        ctx.ensure_object(dict)
        ctx.obj["config"] = config

    for command in commands:
        group.add_command(command)
    return group


def config_file(ctx: click.Context) -> Path | None:
    """The ``--config`` file given to the root group, if any (None under a bare group)."""
    root = ctx.find_root().obj
    config = root.get("config") if isinstance(root, dict) else None
    return None if config is None else Path(config)
