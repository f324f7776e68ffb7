"""Prometheus metrics of one edge process, in their own registry (nothing registers on import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_DETECTOR_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class EdgeMetrics:
    """Every metric the edge exports; build one per process and pass it around."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.frames_decoded = Counter(
            "vidsight_edge_frames_decoded",
            "Frames decoded from the source",
            ["camera"],
            registry=r,
        )
        self.frames_sampled = Counter(
            "vidsight_edge_frames_sampled",
            "Frames kept by the sampler (FrameRef events)",
            ["camera"],
            registry=r,
        )
        self.frames_analysed = Counter(
            "vidsight_edge_frames_analysed", "Frames the detector ran on", ["camera"], registry=r
        )
        self.motion_warmups = Counter(
            "vidsight_edge_motion_warmups",
            "Motion gate warm-ups (start, reconnect): background learned, no motion reported",
            ["camera"],
            registry=r,
        )
        self.motion_lighting_events = Counter(
            "vidsight_edge_motion_lighting_events",
            "Global lighting changes the motion gate re-learned instead of reporting motion",
            ["camera"],
            registry=r,
        )
        self.motion_ghosts_absorbed = Counter(
            "vidsight_edge_motion_ghosts_absorbed",
            "Still foreground (ghosts) the motion gate absorbed into its background",
            ["camera"],
            registry=r,
        )
        self.detections = Counter(
            "vidsight_edge_detections", "Objects detected", ["camera", "label"], registry=r
        )
        self.detector_latency = Histogram(
            "vidsight_edge_detector_seconds",
            "Detector latency per analysed frame",
            ["detector"],
            buckets=_DETECTOR_BUCKETS,
            registry=r,
        )
        self.publish_latency = Histogram(
            "vidsight_edge_publish_latency_seconds",
            "From spooling an event to the broker's acknowledgement",
            ["topic"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.published = Counter(
            "vidsight_edge_events_published",
            "Events acknowledged by the broker",
            ["topic"],
            registry=r,
        )
        self.publish_failures = Counter(
            "vidsight_edge_publish_failures",
            "Delivery failures (retriable ones are re-sent from the spool)",
            ["kind"],
            registry=r,
        )
        self.spool_records = Gauge(
            "vidsight_edge_spool_records", "Records waiting in a spool", ["spool"], registry=r
        )
        self.spool_bytes = Gauge(
            "vidsight_edge_spool_bytes", "Bytes waiting in a spool", ["spool"], registry=r
        )
        self.spool_evicted = Gauge(
            "vidsight_edge_spool_evicted_records",
            "Undelivered records evicted because a spool hit its size cap",
            ["spool"],
            registry=r,
        )
        self.evidence_uploaded = Counter(
            "vidsight_edge_evidence_uploaded", "Evidence objects uploaded", ["path"], registry=r
        )
        self.reconnects = Counter(
            "vidsight_edge_reconnects", "Source reconnect attempts", ["camera"], registry=r
        )
        self.camera_errors = Counter(
            "vidsight_edge_camera_errors",
            "Cameras that stopped on an error",
            ["camera"],
            registry=r,
        )
        self.camera_up = Gauge(
            "vidsight_edge_camera_up",
            "1 while frames flow from the camera",
            ["camera"],
            registry=r,
        )

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Export the metrics over HTTP (``/metrics``) from a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)
