"""Errors of the ETL transforms (``etl``)."""

from __future__ import annotations

from vidsight.errors import VidsightError


class EtlError(VidsightError):
    """An ETL transform was given something it cannot work with; the message says what."""
