"""``python -m vidsight`` runs the CLI."""

from vidsight.cli import main

main()
