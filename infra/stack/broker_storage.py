"""What happens to the embedded broker's storage when the broker starts again.

Tansu 0.6's S3 storage engine does not resume a partition where it ended: after a restart it
assigns offsets from 0 again and overwrites the batch objects already there, while the
consumer-group offsets it stored survive (verified: 10 records at offsets 0-9 and
``watermark.json`` high=10 before a restart; the next record after it got offset 0; and the
changelog restore, which reads from the beginning, found nothing). Left as it is, that storage
makes consumers skip new records (their committed offsets lie past the new ends) and mixes old
and new records in one log.

So a broker that starts over old storage starts empty instead, and says so: the old storage is
moved aside, byte for byte, under ``broker-attic/<UTC time>/`` in the data dir (the S3 archive
sink holds every topic as Avro files as well), never deleted.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

ATTIC = "broker-attic"


def has_data(bucket_dir: Path) -> bool:
    """True when the broker's bucket holds anything from an earlier run."""
    return bucket_dir.is_dir() and any(bucket_dir.iterdir())


def retire(bucket_dir: Path, data_dir: Path, *, now: float | None = None) -> Path | None:
    """Move everything in ``bucket_dir`` to a new folder under the attic; returns that folder
    (None when there was nothing to move). The bucket itself stays, empty."""
    if not has_data(bucket_dir):
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = data_dir / ATTIC / stamp
    n = 1
    while target.exists():
        n += 1
        target = data_dir / ATTIC / f"{stamp}-{n}"
    target.mkdir(parents=True)
    for entry in sorted(bucket_dir.iterdir()):
        entry.rename(target / entry.name)
    log.warning(
        "the embedded broker cannot resume its topics after a restart (Tansu S3 engine); "
        "it starts empty, its earlier storage is kept in %s",
        target,
    )
    return target
