"""The ClickHouse HTTP endpoint as the stack runs it: a child process, with a password file.

Shared by the endpoint's integration test modules (not a test module itself).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

START_TIMEOUT_S = 60.0
USER = "vidsight"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """The endpoint as a child process over one data directory."""

    def __init__(
        self,
        path: Path,
        log_path: Path,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.extra_args = extra_args
        self.password = secrets.token_urlsafe(24)
        self.password_file = log_path.with_name(f"{log_path.stem}.password")
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bare_url(self) -> str:
        """The endpoint without credentials."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint with the user and password in it (httpx and curl send them as Basic)."""
        return f"http://{USER}:{self.password}@127.0.0.1:{self.port}"

    @property
    def auth(self) -> tuple[str, str]:
        return USER, self.password

    def client_args(self) -> dict[str, Any]:
        """Keyword arguments for clickhouse_connect.get_client."""
        return {"host": "127.0.0.1", "port": self.port, "username": USER, "password": self.password}

    def command(self, port: int | None = None) -> list[str]:
        return [
            sys.executable,
            "-m",
            "infra.clickhouse_http",
            "--host",
            "127.0.0.1",
            "--port",
            str(port or self.port),
            "--path",
            str(self.path),
            "--user",
            USER,
            "--password-file",
            str(self.password_file),
            *self.extra_args,
        ]

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env} if self.env else None,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"server exited rc={self.proc.returncode}:\n{self.log_path.read_text()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.bare_url}/ping", timeout=1.0).text == "Ok.\n":
                    return
            time.sleep(0.1)
        pytest.fail(f"server not ready after {START_TIMEOUT_S}s:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
