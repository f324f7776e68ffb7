"""Resolve a camera's login reference on the edge, when its source opens.

The password lives only in this process's memory: read from the environment variable or the
secret file the camera's ``credentials`` name, handed to the source, never logged, never put
in an error message (errors name the variable or the file, not what they hold).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from producers.errors import SourceError
from schemas.records import CameraCredentials
from vidsight.redact import MASK

MAX_SECRET_BYTES = 4096
"""Bytes read from a password file (a password, not a document)."""


@dataclass(frozen=True, slots=True)
class Login:
    """A resolved login; the password is left out of ``repr`` so a stray log cannot show it."""

    username: str
    password: str = field(repr=False)

    def scrub(self, text: str) -> str:
        """``text`` with the password (plain or percent-encoded) masked."""
        return scrub(text, (self.password, quote(self.password, safe="")))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by the mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def resolve_login(
    camera_id: str, ref: CameraCredentials | None, environ: Mapping[str, str] | None = None
) -> Login | None:
    """The login a camera's reference points to (None without a reference).

    SourceError names the camera and the variable or file when the password is not there.
    """
    if ref is None:
        return None
    env = os.environ if environ is None else environ
    if ref.password_env is not None:
        password = env.get(ref.password_env)
        if not password:
            raise SourceError(
                f"camera {camera_id}: the environment variable {ref.password_env} that its "
                "credentials.password_env names is not set (or empty) in the edge process"
            )
    elif ref.password_file is not None:
        password = _read_secret(camera_id, Path(ref.password_file))
    else:
        raise SourceError(f"camera {camera_id}: credentials name neither password_env nor file")
    return Login(ref.username or "", password)


def _read_secret(camera_id: str, path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SourceError(
            f"camera {camera_id}: cannot read its credentials.password_file {path}: "
            f"{exc.strerror or type(exc).__name__}"
        ) from None
    if len(data) > MAX_SECRET_BYTES:
        raise SourceError(
            f"camera {camera_id}: credentials.password_file {path} is over "
            f"{MAX_SECRET_BYTES} bytes; it should hold the password only"
        )
    try:
        # Secret files written by `echo` or orchestrators end with a newline: not the password.
        password = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise SourceError(
            f"camera {camera_id}: credentials.password_file {path} is not UTF-8 text"
        ) from None
    if not password:
        raise SourceError(f"camera {camera_id}: credentials.password_file {path} is empty")
    return password
