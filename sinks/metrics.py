"""Prometheus metrics of a sink process, in their own registry (nothing registers on import).

Lag is exported as ``..._lag_records_approx``: it is the broker's reported high watermark
minus the consumer's position, and brokers do not all report that correctly (the local Tansu
broker under-reports the high watermark after multi-record produce batches), so read it as a
hint, never as an exact backlog.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class SinkMetrics:
    """Every metric the sinks export; one per process, shared by the sinks it runs."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.consumed = Counter(
            "vidsight_sink_consumed",
            "Messages taken from the topics (before they are written)",
            ["sink", "topic"],
            registry=r,
        )
        self.rows_written = Counter(
            "vidsight_sink_rows_written",
            "Rows (documents, objects) written to the store",
            ["sink", "topic"],
            registry=r,
        )
        self.records = Counter(
            "vidsight_sink_records",
            "Source records handled, by outcome (written, dead_lettered, skipped)",
            ["sink", "topic", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "vidsight_sink_dead_letters",
            "Records sent to vidsight.dlq",
            ["sink", "topic"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "vidsight_sink_batch_seconds",
            "Latency of one batch write (one topic-partition) to the store",
            ["sink", "topic"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.batch_records = Histogram(
            "vidsight_sink_batch_records",
            "Records per written batch",
            ["sink"],
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 50000),
            registry=r,
        )
        self.store_retries = Counter(
            "vidsight_sink_store_retries",
            "Store outages that made the sink back off and retry",
            ["sink"],
            registry=r,
        )
        self.store_up = Gauge(
            "vidsight_sink_store_up",
            "1 while the last store operation succeeded, 0 while backing off",
            ["sink"],
            registry=r,
        )
        self.commits = Counter(
            "vidsight_sink_commits",
            "Offset commits, by result",
            ["sink", "result"],
            registry=r,
        )
        self.committed_offset = Gauge(
            "vidsight_sink_committed_offset",
            "Last offset committed (next offset to read)",
            ["sink", "topic", "partition"],
            registry=r,
        )
        self.lag_approx = Gauge(
            "vidsight_sink_lag_records_approx",
            "APPROXIMATE lag: reported high watermark minus position (brokers may misreport)",
            ["sink", "topic", "partition"],
            registry=r,
        )

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Export /metrics over HTTP on a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)
