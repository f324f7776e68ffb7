"""The last known camera configuration of a node, on disk.

Written after every change the node reads from the topic (a temporary file, fsync, rename:
a crash leaves the old file or the new one, never half of one) and read at start when the
broker cannot be reached. It holds every live definition of the topic as Avro-shaped JSON (the
topic's own field names; credentials are references, never passwords), so a node can still
run its share when it starts cut off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from producers.errors import ConfigCacheError
from schemas.records import CameraConfig

FORMAT_VERSION = 1
MAX_BYTES = 64 << 20
"""A cache larger than this is refused (about 100k cameras)."""


@dataclass(frozen=True, slots=True)
class CachedConfig:
    """The configuration read from the cache and when it was saved (UTC microseconds)."""

    cameras: Mapping[str, CameraConfig]
    saved_us: int


def save(path: Path, cameras: Mapping[str, CameraConfig], saved_us: int) -> None:
    """Write the configuration atomically (temporary file, fsync, rename, fsync of the dir)."""
    document = {
        "version": FORMAT_VERSION,
        "saved_us": saved_us,
        "cameras": [cameras[cid].to_avro() for cid in sorted(cameras)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(document, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ConfigCacheError(f"cannot write the camera config cache {path}: {exc}") from exc


def load(path: Path) -> CachedConfig | None:
    """The cached configuration, or None when there is no cache file.

    A file that is not a cache this version wrote is a ConfigCacheError naming the file and
    what is wrong with it.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigCacheError(f"cannot read the camera config cache {path}: {exc}") from exc
    if size > MAX_BYTES:
        raise ConfigCacheError(f"camera config cache {path} is {size} bytes, over {MAX_BYTES}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigCacheError(f"camera config cache {path} is not readable JSON: {exc}") from exc
    return _parse(path, document)


def _parse(path: Path, document: Any) -> CachedConfig:
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise ConfigCacheError(
            f"camera config cache {path}: expected an object with version {FORMAT_VERSION}"
        )
    saved = document.get("saved_us")
    items = document.get("cameras")
    if not isinstance(saved, int) or not isinstance(items, list):
        raise ConfigCacheError(
            f"camera config cache {path}: expected saved_us (integer) and cameras (list)"
        )
    cameras: dict[str, CameraConfig] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigCacheError(f"camera config cache {path}: cameras[{i}] is not an object")
        try:
            record = CameraConfig.from_avro(item)
        except Exception as exc:  # any malformed entry: name it, whatever the mapping raised
            raise ConfigCacheError(
                f"camera config cache {path}: cameras[{i}] is not a camera definition: {exc}"
            ) from exc
        cameras[record.camera_id] = record
    return CachedConfig(cameras, saved)
