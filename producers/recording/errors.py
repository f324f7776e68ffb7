"""Errors of recording and alert clips."""

from __future__ import annotations

from producers.errors import EdgeError


class ClipError(EdgeError):
    """An alert clip cannot be made: no such alert, no recorded video, a damaged segment."""
