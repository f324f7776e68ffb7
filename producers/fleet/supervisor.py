"""Start, restart and stop camera workers so that the running set matches the desired one.

Each camera has its own stop event, so stopping one camera touches no other. The workers
publish into the process's one outbox and spool, which outlive them: what a stopped camera
published is delivered all the same. Called from one thread (the runner's loop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from producers.camera import CameraStatus
from producers.config import Camera
from producers.fleet.assignment import Plan, plan

log = logging.getLogger(__name__)


class Worker(Protocol):
    """What the supervisor needs of a camera worker (``producers.camera.CameraWorker``)."""

    camera: Camera
    status: CameraStatus
    thread: threading.Thread

    def start(self) -> None: ...


WorkerFactory = Callable[[Camera, threading.Event], Worker]
"""Builds a worker of a camera that ends when the event is set."""


class CameraSupervisor:
    """The running camera workers, by camera id."""

    def __init__(self, make_worker: WorkerFactory, *, join_timeout_s: float = 10.0) -> None:
        self._make = make_worker
        self._join_timeout_s = join_timeout_s
        self._running: dict[str, tuple[Worker, threading.Event]] = {}
        self._latest: dict[str, Worker] = {}
        self.plans: list[Plan] = []

    @property
    def cameras(self) -> dict[str, Camera]:
        """The cameras with a worker (running, or ended on their own), by id."""
        return {cid: w.camera for cid, (w, _) in self._running.items()}

    @property
    def workers(self) -> list[Worker]:
        """The current workers."""
        return [w for w, _ in self._running.values()]

    @property
    def latest_workers(self) -> list[Worker]:
        """The latest worker of every camera run so far, ended ones too, in first-start order."""
        return list(self._latest.values())

    def statuses(self) -> tuple[CameraStatus, ...]:
        """The status of the latest worker of every camera run so far (stopped ones too)."""
        return tuple(w.status for w in self._latest.values())

    def all_done(self) -> bool:
        """True when every current worker has ended."""
        return all(w.status.done for w, _ in self._running.values())

    def apply(self, desired: Mapping[str, Camera]) -> Plan:
        """Make the running cameras ``desired``: stop removed and changed ones, start the rest."""
        todo = plan(self.cameras, desired)
        if todo.empty:
            return todo
        log.info("cameras: %s", todo.describe())
        self._stop([*todo.stop, *(c.camera_id for c in todo.restart)])
        for camera in (*todo.start, *todo.restart):
            self._start(camera)
        self.plans.append(todo)
        return todo

    def stop_all(self) -> None:
        """Stop every worker and wait for them."""
        self._stop(list(self._running))

    def _start(self, camera: Camera) -> None:
        stop = threading.Event()
        worker = self._make(camera, stop)
        self._running[camera.camera_id] = (worker, stop)
        self._latest[camera.camera_id] = worker  # a restarted camera keeps its place
        worker.start()

    def _stop(self, camera_ids: list[str]) -> None:
        leaving = [self._running.pop(cid) for cid in camera_ids if cid in self._running]
        for _, stop in leaving:  # all at once: they wind down in parallel
            stop.set()
        for worker, _ in leaving:
            worker.thread.join(self._join_timeout_s)
            if worker.thread.is_alive():
                log.error(
                    "camera=%s did not stop within %.0fs",
                    worker.camera.camera_id,
                    self._join_timeout_s,
                )
