"""The registry's Prometheus metrics, in a registry of their own (nothing global, nothing at
import), served at ``GET /metrics``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.registry.state import RegistryState


class _StateCollector(Collector):
    """Sizes read from the state at scrape time, so they are never stale."""

    def __init__(self, state: Callable[[], RegistryState], offset: Callable[[], int]) -> None:
        self._state = state
        self._offset = offset

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self._state()
        yield GaugeMetricFamily(
            "vidsight_registry_subjects", "subjects with a live version", len(state.subjects())
        )
        yield GaugeMetricFamily(
            "vidsight_registry_max_schema_id", "highest schema id given out", state.max_schema_id
        )
        yield GaugeMetricFamily(
            "vidsight_registry_log_offset", "offset of the last record applied", self._offset()
        )


class RegistryMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "vidsight_registry_http_responses",
            "HTTP responses sent, by method and status code",
            ["method", "status"],
            registry=self.registry,
        )
        self.writes = Counter(
            "vidsight_registry_log_writes",
            "records appended to the registry log, by record type",
            ["record"],
            registry=self.registry,
        )
        self.write_failures = Counter(
            "vidsight_registry_log_write_failures",
            "appends that failed; the state is reconciled with the log before the next change",
            registry=self.registry,
        )

    def watch(self, state: Callable[[], RegistryState], offset: Callable[[], int]) -> None:
        """Export the state's sizes (called once, by the service that owns the state)."""
        self.registry.register(_StateCollector(state, offset))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ResponseCounter:
    """ASGI middleware counting every HTTP response by method and status."""

    def __init__(self, app: ASGIApp, metrics: RegistryMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._metrics.requests.labels(scope["method"], str(message["status"])).inc()
            await send(message)

        await self._app(scope, receive, send_counting)
