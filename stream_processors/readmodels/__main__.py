"""``python -m stream_processors.readmodels run``: the read-model CLI without the vidsight root."""

from __future__ import annotations

import logging

from stream_processors.readmodels.cli import readmodels_group
from vidsight.commands import root_group

# The worker's own progress (assignments, recovery) is what its log is read for: INFO by default.
main = root_group(
    "readmodels",
    "Live read models: occupancy, crossings, open alerts, false-positive verdicts.",
    readmodels_group.commands.values(),
    base_level=logging.INFO,
)

if __name__ == "__main__":
    main()
