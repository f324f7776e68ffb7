"""The ClickHouse sink: analytics facts, hourly rollups, exactly-once in effect."""

from __future__ import annotations

from sinks.clickhouse.sink import ClickHouseSink

__all__ = ["ClickHouseSink"]
