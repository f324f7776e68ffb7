#!/usr/bin/env python3
"""Container entrypoint: the ``*_FILE`` convention for vidsight's settings, then exec.

``VIDSIGHT_X_FILE=/run/secrets/x`` becomes ``VIDSIGHT_X=<contents of the file>`` (one
trailing newline dropped), so secrets come from Docker/Kubernetes secret files and never from
the compose file, ``docker inspect`` or a command line. Setting both ``VIDSIGHT_X`` and
``VIDSIGHT_X_FILE`` is refused: silently preferring one hides a misconfiguration. Standard
library only: it runs before anything else in the image.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

PREFIX = "VIDSIGHT_"
SUFFIX = "_FILE"
MAX_BYTES = 64 * 1024
"""A secret or a JSON client config is far smaller; a bigger file is a wrong path."""


class EntrypointError(Exception):
    """A ``*_FILE`` variable cannot be resolved; the message names it (never the value)."""


def _read(path: str) -> str:
    with open(path, "rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise EntrypointError(f"{path} is larger than {MAX_BYTES} bytes")
    return data.decode("utf-8")


def resolve_file_vars(
    environ: Mapping[str, str], read: Callable[[str], str] = _read
) -> dict[str, str]:
    """The environment with every ``VIDSIGHT_*_FILE`` replaced by the variable it names."""
    env = dict(environ)
    for file_var in sorted(k for k in environ if k.startswith(PREFIX) and k.endswith(SUFFIX)):
        var = file_var[: -len(SUFFIX)]
        if var in environ:
            raise EntrypointError(f"both {var} and {file_var} are set; set one of them")
        path = environ[file_var]
        try:
            value = read(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise EntrypointError(f"{file_var}: cannot read {path}: {exc}") from exc
        env[var] = value[:-1] if value.endswith("\n") else value
        del env[file_var]
    return env


def main(argv: list[str]) -> int:
    if not argv:
        print("vidsight-entrypoint: no command given", file=sys.stderr)
        return 64
    try:
        env = resolve_file_vars(os.environ)
    except EntrypointError as exc:
        print(f"vidsight-entrypoint: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG
    os.execvpe(argv[0], argv, env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
