"""The embedded local stack: every part of DESIGN.md's "Local embedded stack" on loopback."""

from infra.stack.errors import PortInUseError, StackError
from infra.stack.stack import ComponentStatus, Stack

__all__ = ["ComponentStatus", "PortInUseError", "Stack", "StackError"]
