"""Which cameras a worker owns, and operator verdicts about the cameras it does not.

A camera is owned by the worker assigned the input partition its records arrive on. The
engine holds state only for owned cameras: a camera becomes owned with its first record on
an assigned partition or when its state is restored from the changelog, and is forgotten
when its partition is revoked.

Every worker reads the whole feedback topic, but only the owner applies a verdict (the
engine would otherwise grow state for every camera of the deployment). The others keep the
recent verdicts per camera, bounded, and apply them when the camera comes to them: a
verdict given after the previous owner's last checkpoint is then not lost. Re-applying a
verdict the restored state already holds changes nothing (the latest verdict per alert
wins).

Pure: no Kafka, the engine is the only collaborator.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping

from schemas.records import Feedback
from stream_processors.errors import SnapshotError
from stream_processors.rules import Engine

log = logging.getLogger(__name__)


class Ownership:
    """Owned cameras by input partition, and buffered verdicts by camera."""

    def __init__(self, engine: Engine, feedback_buffer: int) -> None:
        self.engine = engine
        self.partition_of: dict[str, int] = {}
        self._cameras: dict[int, set[str]] = {}
        self._feedback: dict[str, deque[Feedback]] = {}
        self._buffer = feedback_buffer

    def cameras(self, partition: int) -> frozenset[str]:
        """Owned cameras of one partition."""
        return frozenset(self._cameras.get(partition, ()))

    def claim(self, camera_id: str, partition: int) -> None:
        """A record of the camera arrived on an assigned partition: own it from now on."""
        previous = self.partition_of.get(camera_id)
        if previous == partition:
            return
        if previous is not None:
            # The producer moved the camera (partition count changed): keep its state, file
            # it under its new partition so checkpoints write it there.
            self._cameras[previous].discard(camera_id)
        self.partition_of[camera_id] = partition
        self._cameras.setdefault(partition, set()).add(camera_id)
        if previous is None:
            for fb in self._feedback.get(camera_id, ()):
                self.engine.on_feedback(fb)

    def restore(self, partition: int, states: Mapping[str, bytes]) -> list[tuple[str, Exception]]:
        """Load the changelog state of a newly assigned partition's cameras.

        Returns the cameras whose state could not be read (they start fresh) with the error.
        """
        failed: list[tuple[str, Exception]] = []
        for camera_id, data in states.items():
            try:
                self.engine.restore(camera_id, data)
            except SnapshotError as exc:
                failed.append((camera_id, exc))
            self.partition_of[camera_id] = partition
            self._cameras.setdefault(partition, set()).add(camera_id)
            for fb in self._feedback.get(camera_id, ()):
                self.engine.on_feedback(fb)
        return failed

    def release(self, partitions: Iterable[int]) -> int:
        """Forget the cameras of revoked partitions; returns how many were dropped."""
        dropped = 0
        for partition in partitions:
            for camera_id in self._cameras.pop(partition, set()):
                self.engine.forget(camera_id)
                del self.partition_of[camera_id]
                dropped += 1
        return dropped

    def on_feedback(self, feedback: Feedback) -> None:
        """A verdict from the feedback topic: applied if the camera is owned, kept anyway."""
        camera_id = feedback.camera_id
        kept = self._feedback.get(camera_id)
        if kept is None:
            kept = self._feedback[camera_id] = deque(maxlen=self._buffer)
        kept.append(feedback)
        if camera_id in self.partition_of:
            self.engine.on_feedback(feedback)
