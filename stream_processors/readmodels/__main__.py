"""``python -m stream_processors.readmodels run``: the read-model CLI without the vidsight root."""

from __future__ import annotations

import logging

from stream_processors.readmodels.cli import readmodels_group
from vidsight.errors import VidsightError


def main() -> None:
    """Run the ``readmodels`` group as a program; vidsight errors exit 2 with one line."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        readmodels_group(standalone_mode=True)
    except VidsightError as exc:
        raise SystemExit(f"error: {exc}") from exc


if __name__ == "__main__":
    main()
