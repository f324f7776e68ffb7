"""What ``vidsight cameras apply FILE`` does to the cameras topic (pure).

Every camera of the file is published (a definition the topic holds already is published
again, harmlessly: the edge restarts a camera only when how it runs changes). Cameras the topic
holds but the file does not are deleted with a tombstone only when the user confirms with
``--prune``; without it they are listed and kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from schemas.records import CameraConfig


class Action(StrEnum):
    """What applying a file does to one camera."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    DELETE = "delete"
    KEEP = "not in file"
    """On the topic, not in the file, kept (no --prune)."""


@dataclass(frozen=True, slots=True)
class CameraChange:
    """One camera's change; ``config`` is None for a delete (a tombstone) or a kept camera."""

    camera_id: str
    action: Action
    config: CameraConfig | None

    @property
    def published(self) -> bool:
        """Whether apply writes a record for it (a definition or a tombstone)."""
        return self.action is not Action.KEEP


def _same(a: CameraConfig, b: CameraConfig) -> bool:
    return dataclasses.replace(a, updated_ts=0) == dataclasses.replace(b, updated_ts=0)


def plan_apply(
    current: Mapping[str, CameraConfig], desired: Sequence[CameraConfig], *, prune: bool
) -> list[CameraChange]:
    """The changes of applying ``desired`` (a file's cameras, in file order) to ``current``.

    File order first, then the cameras the file lacks by id: deleted with ``prune``, else kept.
    """
    changes = []
    for cfg in desired:
        old = current.get(cfg.camera_id)
        if old is None:
            action = Action.CREATE
        elif _same(old, cfg):
            action = Action.UNCHANGED
        else:
            action = Action.UPDATE
        changes.append(CameraChange(cfg.camera_id, action, cfg))
    wanted = {cfg.camera_id for cfg in desired}
    for camera_id in sorted(current.keys() - wanted):
        changes.append(CameraChange(camera_id, Action.DELETE if prune else Action.KEEP, None))
    return changes
