"""Credentials of the local stack: generated at the first ``vidsight up``, kept in 0600 files.

Each secret lives in ``<data_dir>/secrets/<settings field>`` (folder 0700), which is exactly
where :func:`vidsight.settings.load` looks, so every client process of the stack finds them
without a secret ever travelling on a command line, in ``stack.json`` or in ``status``.
A value the user configured (environment or config file) wins and is written there instead,
so the servers and their clients always agree.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from infra.stack.errors import StackError
from infra.stack.settings import StackSettings
from vidsight.settings import SECRETS_DIR

# Field -> how a fresh value is made. Users are not secret, but they live beside their passwords.
_GENERATED: dict[str, tuple[bool, int]] = {
    # name: (is a SecretStr field, random bytes; 0 = a fixed user name)
    "clickhouse_password": (True, 24),
    "clickhouse_etl_password": (True, 24),
    "registry_user": (False, 0),
    "registry_password": (True, 24),
    "s3_secret_key": (True, 24),
}
# Secrets of the operator console (fields of vidsight.console.ConsoleSettings, not of the
# stack's settings): made once, never printed; the demo says where the password is.
CONSOLE_SECRETS: dict[str, int] = {"console_password": 18, "console_session_secret": 32}
REGISTRY_USER = "vidsight"
POSTGRES_PASSWORD = "postgres_password"
"""Password of the embedded PostgreSQL's superuser (not a settings field: it is part of the DSN)."""


def secrets_dir(data_dir: Path) -> Path:
    return data_dir / SECRETS_DIR


def write_secret(folder: Path, name: str, value: str) -> None:
    """Write one secret file 0600 atomically (created with that mode, never world-readable)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    tmp = folder / f".{name}.tmp"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    tmp.replace(folder / name)


def _current(settings: StackSettings, name: str) -> str:
    value = getattr(settings, name)
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _default(name: str) -> str:
    default = StackSettings.model_fields[name].default
    return default.get_secret_value() if isinstance(default, SecretStr) else str(default)


def ensure_secrets(settings: StackSettings, data_dir: Path) -> StackSettings:
    """``settings`` with every stack credential filled in, generated once and kept on disk.

    Precedence: a value the user set (differs from the built-in default) > the file of an
    earlier ``up`` > a new random value.
    """
    folder = secrets_dir(data_dir)
    update: dict[str, object] = {}
    for name, (is_secret, nbytes) in _GENERATED.items():
        path = folder / name
        configured = _current(settings, name)
        if configured != _default(name):
            value = configured
        elif path.is_file():
            value = _read(path)
        else:
            value = secrets.token_urlsafe(nbytes) if nbytes else REGISTRY_USER
        if not path.is_file() or _read(path) != value:
            write_secret(folder, name, value)
        update[name] = SecretStr(value) if is_secret else value
    if not (folder / POSTGRES_PASSWORD).is_file():
        write_secret(folder, POSTGRES_PASSWORD, secrets.token_urlsafe(24))
    for name, nbytes in CONSOLE_SECRETS.items():
        if not (folder / name).is_file():
            write_secret(folder, name, secrets.token_urlsafe(nbytes))
    for path in folder.iterdir():
        # A secret file someone left readable by others is tightened, not trusted as is.
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    return settings.model_copy(update=update)


def read_secret(data_dir: Path, name: str) -> str | None:
    """The secret ``name`` of the stack at ``data_dir``, or None when there is none."""
    path = secrets_dir(data_dir) / name
    return _read(path) if path.is_file() else None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise StackError(f"secret file {path} cannot be read: {exc.strerror}") from exc
