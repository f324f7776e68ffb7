"""Child processes of the local stack: spawn detached, pid files, stop by process group.

Each part runs in its own session (process group) so stopping it also stops what it spawned
(dagster's code servers, postgres' backends). A pid file records the pid, the command line and
the process start time, so a pid that the OS has since reused is never mistaken for ours.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PidRecord:
    """What a pid file holds."""

    pid: int
    create_time: float
    cmdline: list[str]
    port: int

    def alive(self) -> bool:
        """True when this exact process (not a reused pid) still runs."""
        try:
            proc = psutil.Process(self.pid)
            # create_time is the robust identity check; the cmdline may be rewritten by the
            # process itself (postgres does), so it is not compared.
            same = abs(proc.create_time() - self.create_time) < 1.0
            return bool(same and proc.status() != psutil.STATUS_ZOMBIE)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def rss_bytes(self) -> int:
        """Resident memory of the process and its children (0 when gone)."""
        try:
            proc = psutil.Process(self.pid)
            procs = [proc, *proc.children(recursive=True)]
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            return total
        except psutil.NoSuchProcess:
            return 0


class PidFile:
    """The pid file of one part, under ``<data_dir>/run/``."""

    def __init__(self, run_dir: Path, name: str) -> None:
        self.path = run_dir / f"{name}.pid"

    def read(self) -> PidRecord | None:
        try:
            data = json.loads(self.path.read_text())
            return PidRecord(
                pid=int(data["pid"]),
                create_time=float(data["create_time"]),
                cmdline=list(data["cmdline"]),
                port=int(data["port"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running(self) -> PidRecord | None:
        """The record when its process is alive; a stale file is removed."""
        record = self.read()
        if record is None:
            return None
        if record.alive():
            return record
        log.info("stale pid file removed path=%s pid=%s", self.path, record.pid)
        self.path.unlink(missing_ok=True)
        return None

    def write(self, record: PidRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # No SO_REUSEADDR: we want to see TIME_WAIT-free, really unused ports only when binding,
        # but a listener is what matters, so allow reuse of TIME_WAIT sockets.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now (for tests and ad-hoc stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
    port: int,
    user: str | None = None,
) -> PidRecord:
    """Start ``cmd`` detached in its own session, output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        out.write(
            f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(cmd)}\n".encode()
        )
        out.flush()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    create_time = psutil.Process(proc.pid).create_time()
    # The Popen object is dropped on purpose: the part outlives `vidsight up`. Mark it as
    # already reaped so Python does not warn about a child still running.
    proc.returncode = 0
    return PidRecord(pid=proc.pid, create_time=create_time, cmdline=list(cmd), port=port)


def stop(record: PidRecord, *, timeout_s: float = 20.0) -> bool:
    """SIGTERM the part's process group, SIGKILL after ``timeout_s``; True when it stopped."""
    if not record.alive():
        return True
    try:
        pgid = os.getpgid(record.pid)
    except ProcessLookupError:
        return True
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not record.alive():
            _reap(record.pid)
            return True
        time.sleep(0.1)
    log.warning("part did not stop on SIGTERM, killing pid=%s", record.pid)
    _signal_group(pgid, signal.SIGKILL)
    time.sleep(0.2)
    _reap(record.pid)
    return not record.alive()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _reap(pid: int) -> None:
    # When the stack is driven in-process (tests), the part is our child: reap the zombie.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file ('' when missing)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
