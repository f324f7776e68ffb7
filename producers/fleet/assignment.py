"""Which cameras an edge node runs, and what changes when the configuration does (pure).

A camera names the node that runs it (``node``) or a site (``site``): a site's cameras are
split among the site's nodes by rendezvous hashing (each camera goes to the node with the
highest hash of camera id and node id), so every node computes the same split on its own and
a node joining or leaving moves only its share. A camera naming both runs on that node only
if the node is in that site. A camera naming neither is unassigned: only nodes that take
unassigned cameras (``run_unassigned``) run it. Disabled cameras run nowhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from producers.config import Camera


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who this edge node is: its id, its site and the site's nodes."""

    node_id: str
    site: str | None = None
    site_nodes: frozenset[str] = frozenset()
    run_unassigned: bool = False

    @property
    def peers(self) -> frozenset[str]:
        """The site's nodes, this one included."""
        return self.site_nodes | {self.node_id}


def site_owner(camera_id: str, nodes: Iterable[str]) -> str:
    """The node of ``nodes`` that runs a site camera (rendezvous hashing, ties by node id)."""

    def weight(node: str) -> tuple[bytes, str]:
        digest = hashlib.sha256(f"{camera_id}\x00{node}".encode()).digest()
        return digest, node

    candidates = sorted(set(nodes))
    if not candidates:
        raise ValueError("a site camera needs at least one node")
    return max(candidates, key=weight)


def runs_on(camera: Camera, node: NodeIdentity) -> bool:
    """Whether ``node`` runs ``camera``."""
    if not camera.enabled:
        return False
    if camera.node is not None:
        return camera.node == node.node_id and camera.site in (None, node.site)
    if camera.site is not None:
        return camera.site == node.site and site_owner(camera.camera_id, node.peers) == (
            node.node_id
        )
    return node.run_unassigned


def assigned(cameras: Iterable[Camera], node: NodeIdentity) -> dict[str, Camera]:
    """The cameras ``node`` runs, by camera id."""
    return {c.camera_id: c for c in cameras if runs_on(c, node)}


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do to the running cameras: start new ones, restart changed ones, stop the rest."""

    start: tuple[Camera, ...] = ()
    restart: tuple[Camera, ...] = ()
    stop: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing changes."""
        return not (self.start or self.restart or self.stop)

    def describe(self) -> str:
        """One line for the log: the camera ids per action."""
        parts = [
            f"{name}={','.join(ids)}"
            for name, ids in (
                ("start", [c.camera_id for c in self.start]),
                ("restart", [c.camera_id for c in self.restart]),
                ("stop", list(self.stop)),
            )
            if ids
        ]
        return " ".join(parts) or "no change"


def _how_it_runs(camera: Camera) -> Camera:
    """The camera without its assignment: moving it between a node and its site is no change."""
    return replace(camera, node=None, site=None)


def plan(running: Mapping[str, Camera], desired: Mapping[str, Camera]) -> Plan:
    """The changes that make ``running`` into ``desired`` (both by camera id).

    A camera whose definition changed in any way that affects how it runs is restarted;
    the others are left alone. Starts and restarts come in ``desired``'s order, stops by id.
    """
    start = tuple(c for cid, c in desired.items() if cid not in running)
    stop = tuple(sorted(running.keys() - desired.keys()))
    restart = tuple(
        c
        for cid, c in desired.items()
        if cid in running and _how_it_runs(c) != _how_it_runs(running[cid])
    )
    return Plan(start=start, restart=restart, stop=stop)
