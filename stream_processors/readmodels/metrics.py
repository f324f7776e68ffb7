"""Prometheus metrics of a read-model worker, in their own registry (nothing registers on import).

Served as ``GET /metrics`` on the worker's own HTTP server.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ReadModelMetrics:
    """Every metric a read-model worker exports."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.records = Counter(
            "vidsight_readmodels_records",
            "Source records handled, by outcome (applied, dead_lettered)",
            ["topic", "outcome"],
            registry=r,
        )
        self.table_writes = Counter(
            "vidsight_readmodels_table_writes",
            "Values written to a table and its changelog (at most one per camera and batch)",
            ["table"],
            registry=r,
        )
        self.batch_records = Histogram(
            "vidsight_readmodels_batch_records",
            "Records per batch an agent applied",
            ["topic"],
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=r,
        )
        self.registry_retries = Counter(
            "vidsight_readmodels_registry_retries",
            "Decodes retried because the schema registry could not answer",
            ["topic"],
            registry=r,
        )
        self.visible_seconds = Histogram(
            "vidsight_readmodels_visible_seconds",
            "From the record's Kafka timestamp (produce time) until its table change is "
            "visible to queries on this worker",
            ["topic"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def exposition(self) -> bytes:
        """The Prometheus text exposition of the registry."""
        return generate_latest(self.registry)
