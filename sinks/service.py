"""Running sinks as a process: one runner thread per store, signals, the metrics endpoint."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.serde import Serde
from sinks.metrics import SinkMetrics
from sinks.runner import RunOptions, RunStats, SinkRunner
from sinks.settings import SinkSettings
from sinks.stores import build
from vidsight.kafka.shutdown import stop_on_signals

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ServiceResult:
    """Per store: the run's totals, or the error that ended it."""

    stats: dict[str, RunStats] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)


def run_sinks(
    names: list[str],
    settings: SinkSettings,
    *,
    options: RunOptions | None = None,
    stop: threading.Event | None = None,
    metrics: SinkMetrics | None = None,
    on_start: Callable[[SinkMetrics], None] | None = None,
) -> ServiceResult:
    """Run the sinks of some stores until stopped (or idle); one failing stops them all."""
    stop = stop or threading.Event()
    metrics = metrics or SinkMetrics()
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port, settings.metrics_host)
    if on_start is not None:
        on_start(metrics)
    result = ServiceResult()

    def target(name: str) -> None:
        try:
            runner = SinkRunner(
                build(name, settings),
                settings,
                serde=Serde.for_registry(settings, auto_register=False),
                metrics=metrics,
                stop=stop,
                options=options or RunOptions(),
            )
            result.stats[name] = runner.run()
        except BaseException as exc:
            log.exception("sink failed sink=%s", name)
            result.errors[name] = exc
            stop.set()

    threads = [threading.Thread(target=target, args=(n,), name=f"sink-{n}") for n in names]
    with stop_on_signals(stop):
        for t in threads:
            t.start()
        for t in threads:
            # join with a timeout so the main thread keeps handling signals
            while t.is_alive():
                t.join(0.5)
    return result
