"""The stores by name: what ``sink run``, ``replay`` and the benchmarks build."""

from __future__ import annotations

from typing import Any

from sinks.base import Sink
from sinks.settings import SinkSettings

STORES: tuple[str, ...] = ("postgres", "mongo", "clickhouse", "s3")
"""Every store a sink projects into, in the order ``all`` starts them."""


def build(name: str, settings: SinkSettings) -> Sink[Any]:
    """The sink of one store (its client libraries are imported only when it is built)."""
    if name == "postgres":
        from sinks.postgres import PostgresSink

        return PostgresSink(settings)
    if name == "mongo":
        from sinks.mongo import MongoSink

        return MongoSink(settings)
    if name == "clickhouse":
        from sinks.clickhouse import ClickHouseSink

        return ClickHouseSink(settings)
    if name == "s3":
        from sinks.s3archive import S3ArchiveSink

        return S3ArchiveSink(settings)
    raise ValueError(f"unknown store {name!r}; known: {', '.join(STORES)}")


def expand(names: tuple[str, ...] | list[str]) -> list[str]:
    """Store names with ``all`` expanded, duplicates removed, in ``STORES`` order."""
    wanted = set(STORES) if "all" in names else set(names)
    unknown = wanted - set(STORES)
    if unknown:
        raise ValueError(f"unknown store(s) {sorted(unknown)}; known: {', '.join(STORES)}, all")
    return [n for n in STORES if n in wanted]
