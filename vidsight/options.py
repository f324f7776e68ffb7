"""Command-line options every vidsight command group shares (a leaf module: click only)."""

from __future__ import annotations

from pathlib import Path

import click

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="data dir of the local stack (env VIDSIGHT_DATA_DIR, default ./.vidsight)",
)
"""``--data-dir``: where the local stack keeps its data and ``stack.json``."""
