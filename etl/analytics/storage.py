"""Storage usage: bytes and items per store, object (prefix, table, collection, topic) and camera.

S3 keys name the camera in a known position for each prefix (evidence/<camera>/...,
reports/heatmaps/<camera>/..., recordings/<camera>/...); the archive and the lake are per
topic, so their camera is ``*`` and the topic is the object.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

ALL = "*"


@dataclass(frozen=True, slots=True)
class Usage:
    """One row of ``storage_usage``."""

    store: str
    object: str
    camera_id: str
    bytes: int
    items: int


def s3_object(key: str, archive_prefix: str = "archive") -> tuple[str, str]:
    """(object, camera) an S3 key counts under."""
    parts = key.split("/")
    head = parts[0]
    if head in ("evidence", "recordings") and len(parts) > 2:
        return head, parts[1]
    if head == "reports" and len(parts) > 3:
        return f"reports/{parts[1]}", parts[2]
    if head in (archive_prefix, "lake") and len(parts) > 2:
        return f"{head}/{parts[1]}", ALL
    return head if len(parts) > 1 else "(root)", ALL


def s3_usage(objects: Iterable[tuple[str, int]], archive_prefix: str = "archive") -> list[Usage]:
    """Usage rows of (key, size) pairs of a bucket listing."""
    acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for key, size in objects:
        slot = acc[s3_object(key, archive_prefix)]
        slot[0] += size
        slot[1] += 1
    return [Usage("s3", obj, cam, b, n) for (obj, cam), (b, n) in sorted(acc.items())]


def total(rows: Iterable[Usage]) -> dict[str, int]:
    """Bytes per store."""
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r.store] += r.bytes
    return dict(sorted(out.items()))
