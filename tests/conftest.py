"""Shared fixtures: the local stack, started once per test session on free ports.

Set ``VIDSIGHT_TEST_STACK=<data dir>`` to reuse a stack already started with ``vidsight up``
(faster local iterations); otherwise a fresh one is started in a temp dir and stopped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.stack.settings import Ports, StackEndpoints, StackSettings
from vidsight.settings import load


@dataclass(frozen=True)
class StackHandle:
    """Endpoints of the running test stack, as plain strings."""

    endpoints: StackEndpoints
    data_dir: Path
    settings: StackSettings | None

    @property
    def kafka_bootstrap(self) -> str:
        return self.endpoints.kafka_bootstrap

    @property
    def registry_url(self) -> str:
        return self.endpoints.registry_url

    @property
    def postgres_dsn(self) -> str:
        return self.endpoints.postgres_dsn.get_secret_value()

    @property
    def mongo_uri(self) -> str:
        return self.endpoints.mongo_uri.get_secret_value()

    @property
    def clickhouse_url(self) -> str:
        return self.endpoints.clickhouse_url

    @property
    def clickhouse_user(self) -> str:
        return self.endpoints.clickhouse_user

    @property
    def clickhouse_password(self) -> str:
        return self.endpoints.clickhouse_password.get_secret_value()

    @property
    def s3_endpoint(self) -> str:
        return self.endpoints.s3_endpoint

    @property
    def s3_bucket(self) -> str:
        return self.endpoints.s3_bucket

    @property
    def s3_access_key(self) -> str:
        return self.endpoints.s3_access_key.get_secret_value()

    @property
    def s3_secret_key(self) -> str:
        return self.endpoints.s3_secret_key.get_secret_value()

    def env(self) -> dict[str, str]:
        """Environment for a `vidsight` subprocess that should use this stack."""
        return {**os.environ, "VIDSIGHT_DATA_DIR": str(self.data_dir)}


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so none is handed out twice)."""
    import socket

    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def make_stack_settings(data_dir: Path, **overrides: object) -> StackSettings:
    """Stack settings on free ports in ``data_dir`` with a database name unique to this run."""
    names = list(Ports.model_fields)
    ports = Ports(**dict(zip(names, free_ports(len(names)), strict=True)))
    values: dict[str, object] = {
        "data_dir": data_dir,
        "ports": ports,
        "postgres_database": f"vidsight_test_{uuid.uuid4().hex[:10]}",
        "start_timeout_s": 120.0,
    }
    values.update(overrides)
    return StackSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def stack_settings_factory() -> object:
    """``make_stack_settings`` for tests that run a stack of their own."""
    return make_stack_settings


def enterable_tmp_dir(prefix: str) -> Path:
    """A new temp folder other users may enter (0711).

    Run as root, the embedded PostgreSQL runs as a system user that must reach its data dir,
    and the stack changes no permission outside the data dir; pytest's own temp folders are
    0700, so stacks with the embedded server live in folders like this one.
    """
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


@pytest.fixture
def enterable_tmp_path() -> Iterator[Path]:
    """``tmp_path`` that the embedded PostgreSQL's system user may enter; removed afterwards."""
    import shutil

    path = enterable_tmp_dir("vidsight-test-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[StackHandle]:
    """The whole local stack (every part of DESIGN.md), healthy."""
    reuse = os.environ.get("VIDSIGHT_TEST_STACK")
    if reuse:
        data = Path(reuse).resolve()
        endpoints = load(StackEndpoints, data_dir=data)
        yield StackHandle(endpoints=endpoints, data_dir=data, settings=None)
        return
    import shutil

    from infra.stack import Stack
    from infra.stack import postgres as pg

    base = enterable_tmp_dir("vidsight-stack-")
    data = base / "stack"
    settings = make_stack_settings(data)
    stack = Stack(settings)
    try:
        stack.up()
        yield StackHandle(
            endpoints=load(StackEndpoints, data_dir=data), data_dir=data, settings=settings
        )
    finally:
        stack.down()
        mode, dsn = stack.postgres_mode()
        if mode == "external":
            admin = pg.with_database(dsn, "postgres")
            for database in (stack.postgres_database(), stack.dagster_database()):
                pg.drop_database(admin, database)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def catalog_topics(stack: StackHandle) -> StackHandle:
    """The stack with every catalog topic created."""
    from schemas.topics import create_topics

    create_topics(stack.endpoints.kafka_client_config())
    return stack
