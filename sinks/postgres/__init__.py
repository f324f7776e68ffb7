"""The PostgreSQL sink: cameras, sensors, alerts and feedback, schema by versioned migrations."""

from __future__ import annotations

from sinks.postgres.sink import PostgresSink

__all__ = ["PostgresSink"]
