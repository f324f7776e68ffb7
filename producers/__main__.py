"""``python -m producers edge|cameras ...``: the edge commands without the rest of the CLI."""

from __future__ import annotations

from producers.cli import cameras, edge
from vidsight.commands import root_group

main = root_group("producers", "vidsight edge producer.", [edge, cameras])

if __name__ == "__main__":
    main()
