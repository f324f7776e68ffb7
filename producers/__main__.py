"""``python -m producers edge|cameras ...``: the edge commands without the rest of the CLI."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from producers.cli import cameras, edge
from vidsight.errors import VidsightError


class _Group(click.Group):
    """vidsight's own errors as one line and exit code 2, like the ``vidsight`` command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VidsightError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="more logging (-vv for debug)")
def main(verbose: int) -> None:
    """vidsight edge producer."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


main.add_command(edge)
main.add_command(cameras)

if __name__ == "__main__":
    main()
