"""Prometheus metrics of the detections-path worker, in their own registry.

Counters are bumped once per batch with the batch's totals, never per message: the hot loop
pays nothing for them. The rules engine's suppression counters are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _SuppressionCollector(Collector):
    """``vidsight_processor_suppressed_total{reason}`` from the engine's counters."""

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "vidsight_processor_suppressed",
            "Detections and events the rules did not turn into sensor events or alerts, by "
            "reason (counted per object and sensor)",
            labels=["reason"],
        )
        for reason, value in sorted(self._read().items()):
            family.add_metric([reason], value)
        yield family


class ProcessorMetrics:
    """Every metric one worker exports."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.messages_in = Counter(
            "vidsight_processor_messages_in",
            "Records consumed, by topic",
            ["topic"],
            registry=r,
        )
        self.messages_out = Counter(
            "vidsight_processor_messages_out",
            "Records produced, by topic (outputs, changelog, dead letters)",
            ["topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "vidsight_processor_dead_letters",
            "Records sent to the DLQ, by source topic",
            ["topic"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "vidsight_processor_batch_seconds",
            "Time to process one consumed batch (decode, rules, produce)",
            buckets=_SECONDS,
            registry=r,
        )
        self.checkpoint_seconds = Histogram(
            "vidsight_processor_checkpoint_seconds",
            "Time of one checkpoint (acknowledge outputs, write state, commit offsets)",
            buckets=_SECONDS,
            registry=r,
        )
        self.restore_seconds = Histogram(
            "vidsight_processor_restore_seconds",
            "Time to restore the state of newly assigned partitions from the changelog",
            buckets=_SECONDS,
            registry=r,
        )
        self.registry_retries = Counter(
            "vidsight_processor_registry_retries",
            "Decodes retried because the schema registry could not answer",
            registry=r,
        )
        self.cameras = Gauge(
            "vidsight_processor_cameras", "Cameras whose state this worker holds", registry=r
        )
        self.partitions = Gauge(
            "vidsight_processor_partitions",
            "Input partitions assigned to this worker",
            registry=r,
        )
        self.held_frames = Gauge(
            "vidsight_processor_held_frames",
            "Frames waiting for the detections of their partition to catch up",
            registry=r,
        )
        self.watched = Gauge(
            "vidsight_processor_health_watched",
            "Cameras and edge nodes whose heartbeats this worker watches",
            ["kind"],
            registry=r,
        )
        self.liveness_open = Gauge(
            "vidsight_processor_liveness_alerts_open",
            "video_loss and node_offline alerts open on this worker",
            registry=r,
        )

    def watch_suppressions(self, read: Callable[[], Mapping[str, int]]) -> None:
        """Export the engine's suppression counters (read when scraped)."""
        self.registry.register(_SuppressionCollector(read))

    def count(self, counter: Any, by_topic: Mapping[str, int]) -> None:
        """Add per-topic totals to a labelled counter."""
        for topic, n in by_topic.items():
            if n:
                counter.labels(topic).inc(n)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Export /metrics over HTTP on a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)
