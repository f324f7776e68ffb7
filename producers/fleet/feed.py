"""The cameras this node should run, from the topic (or the cache): follower + assignment."""

from __future__ import annotations

import logging
import threading

from producers.config import Camera, from_record
from producers.fleet.assignment import NodeIdentity, assigned
from producers.fleet.follower import CameraConfigFollower, ConfigSnapshot
from producers.settings import EdgeSettings
from vidsight.kafka.clients import REAL_CLIENTS, KafkaClients

log = logging.getLogger(__name__)


def node_identity(settings: EdgeSettings) -> NodeIdentity:
    """The node the settings describe (``node_id`` must be set)."""
    if settings.node_id is None:
        raise ValueError("an edge node following the cameras topic needs a node_id")
    return NodeIdentity(
        node_id=settings.node_id,
        site=settings.site,
        site_nodes=frozenset(settings.site_nodes),
        run_unassigned=settings.run_unassigned,
    )


class TopicCameras:
    """Follows the cameras topic and keeps the latest set of cameras assigned to this node.

    The follower thread writes, the runner's loop takes (``take``): only the newest set
    counts, so a burst of changes is applied once.
    """

    def __init__(self, settings: EdgeSettings, *, clients: KafkaClients = REAL_CLIENTS) -> None:
        self.node = node_identity(settings)
        self._lock = threading.Lock()
        self._pending: dict[str, Camera] | None = None
        self.snapshot: ConfigSnapshot | None = None
        self.follower = CameraConfigFollower(settings, self._on_snapshot, clients=clients)

    def start(self) -> None:
        """Start following the topic."""
        self.follower.start()

    def stop(self) -> None:
        """Stop following."""
        self.follower.stop()

    def take(self) -> dict[str, Camera] | None:
        """The cameras to run now if they changed since the last call, else None."""
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def describe(self) -> str:
        """Where the running configuration comes from."""
        snapshot = self.snapshot
        return "no configuration yet" if snapshot is None else snapshot.describe()

    def _on_snapshot(self, snapshot: ConfigSnapshot) -> None:
        cameras = assigned((from_record(r) for r in snapshot.cameras.values()), self.node)
        log.info(
            "node=%s runs %d of %d camera(s) from %s",
            self.node.node_id,
            len(cameras),
            len(snapshot.cameras),
            snapshot.describe(),
        )
        with self._lock:
            self._pending = dict(sorted(cameras.items()))
            self.snapshot = snapshot
