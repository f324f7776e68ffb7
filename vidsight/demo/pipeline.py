"""Run the whole event path once: edge -> broker -> stream processor -> sinks -> stores.

The three stages run side by side in this process, as separate deployments would: the edge
publishes while the processor consumes and the sinks project. A finite edge run ends on its
own; the processor and the sinks are long-running consumers, so the pipeline decides when
they are done: a stage is done once it has handled at least what the stage before it
produced in this run (counted per topic) and then nothing more arrived for ``settle_s``.
It is then stopped the graceful way (processor: final checkpoint; sinks: flush and commit).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from producers.config import Camera
from producers.metrics import EdgeMetrics
from producers.runner import EdgeRunner, RunReport
from producers.settings import EdgeSettings
from schemas import catalog
from sinks.metrics import SinkMetrics
from sinks.runner import RunOptions
from sinks.runner import RunStats as SinkStats
from sinks.service import ServiceResult, run_sinks
from sinks.settings import SinkSettings
from sinks.stores import STORES, build
from stream_processors.runtime.settings import ProcessorSettings
from stream_processors.runtime.worker import Processor
from stream_processors.runtime.worker import RunStats as ProcessorStats
from vidsight.demo.errors import DemoError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Progress:
    """A snapshot for the progress display."""

    stage: str
    frames_expected: int
    frames_analysed: int
    published: int
    processed: int
    sensor_events: int
    alert_messages: int
    sink_handled: dict[str, int]
    sink_expected: dict[str, int]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """What each stage did in this run."""

    edge: RunReport
    published: Mapping[str, int]
    processor: ProcessorStats
    sinks: Mapping[str, SinkStats]
    elapsed_s: float
    stage_s: Mapping[str, float]
    """Seconds from the start until each stage was done."""


@dataclass(slots=True)
class _Worker:
    """A stage running in a thread, with its outcome."""

    name: str
    target: Callable[[], Any]
    result: Any = None
    error: BaseException | None = None
    thread: threading.Thread | None = field(default=None)

    def start(self) -> _Worker:
        def run() -> None:
            try:
                self.result = self.target()
            except BaseException as exc:
                log.exception("demo stage failed stage=%s", self.name)
                self.error = exc

        self.thread = threading.Thread(target=run, name=f"demo-{self.name}", daemon=True)
        self.thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def join(self, timeout_s: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout_s)
        if self.alive:
            raise DemoError(f"{self.name}: did not stop within {timeout_s:.0f}s")
        if self.error is not None:
            raise DemoError(f"{self.name}: {type(self.error).__name__}: {self.error}")


def _sum(registry: CollectorRegistry, name: str, **labels: str) -> int:
    """Sum of a counter's samples whose labels include ``labels``."""
    total = 0.0
    for metric in registry.collect():
        for s in metric.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return int(total)


class _Settled:
    """True once a count reached its floor and then stayed put for ``settle_s``, or stayed
    put for ``give_up_s`` below it (the summary then shows what is missing, against the
    ground truth, instead of the demo hanging on a consumer that lost its position)."""

    def __init__(self, settle_s: float, give_up_s: float = 30.0) -> None:
        self.settle_s = settle_s
        self.give_up_s = max(give_up_s, settle_s)
        self._last: int | None = None
        self._since = time.monotonic()

    def __call__(self, count: int, floor: int) -> bool:
        now = time.monotonic()
        if count != self._last:
            self._last, self._since = count, now
        quiet = now - self._since
        if count < floor and quiet >= self.give_up_s:
            log.warning("demo stage stalled below its floor count=%d floor=%d", count, floor)
            return True
        return count >= floor and quiet >= self.settle_s


def run_pipeline(
    cameras: Sequence[Camera],
    edge: EdgeSettings,
    processor: ProcessorSettings,
    sinks: SinkSettings,
    *,
    config_records: Mapping[str, int] | None = None,
    stores: Sequence[str] = STORES,
    on_progress: Callable[[Progress], None] | None = None,
    frames_expected: int = 0,
    settle_s: float = 3.0,
    timeout_s: float = 600.0,
    tick_s: float = 0.25,
) -> PipelineResult:
    """Run ``cameras`` through the edge, the processor and the sinks of ``stores``.

    ``config_records`` counts the records this run published per config topic, so that the
    sinks are not stopped before they stored them. Raises DemoError naming the stage that
    failed or did not finish within ``timeout_s``.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    edge_metrics = EdgeMetrics()
    sink_metrics = SinkMetrics()
    proc_stop, sink_stop = threading.Event(), threading.Event()
    edge_stop = threading.Event()
    proc = Processor(processor, stop=proc_stop)
    topics = {name: build(name, sinks).topics for name in stores}

    edge_w = _Worker("edge", lambda: EdgeRunner(edge, cameras, edge_metrics).run(stop=edge_stop))
    proc_w = _Worker("processor", proc.run)
    sinks_w = _Worker(
        "sinks",
        lambda: run_sinks(
            list(stores), sinks, options=RunOptions(), stop=sink_stop, metrics=sink_metrics
        ),
    )
    # Consumers first: they join their groups while the edge starts its cameras.
    workers = [proc_w.start(), sinks_w.start(), edge_w.start()]
    stage = "edge"
    stage_s: dict[str, float] = {}

    def finish(name: str) -> None:
        stage_s[name] = round(time.monotonic() - started, 2)
        log.info("demo stage done stage=%s after=%.1fs", name, stage_s[name])

    def published() -> Counter[str]:
        out: Counter[str] = Counter()
        for topic in (catalog.FRAMES, catalog.DETECTIONS):
            out[topic] = _sum(
                edge_metrics.registry, "vidsight_edge_events_published_total", topic=topic
            )
        return out

    def produced() -> Counter[str]:
        """Records this run put on each topic so far."""
        out = published()
        out[catalog.SENSOR_EVENTS] = proc.stats.sensor_events
        out[catalog.ALERTS] = proc.stats.alerts
        out.update(config_records or {})
        return out

    def sink_counts() -> tuple[dict[str, int], dict[str, int]]:
        made = produced()
        handled = {
            name: _sum(sink_metrics.registry, "vidsight_sink_records_total", sink=name)
            for name in stores
        }
        expected = {name: sum(made[t] for t in topics[name]) for name in stores}
        return handled, expected

    def report() -> None:
        if on_progress is None:
            return
        handled, expected = sink_counts()
        made = published()
        on_progress(
            Progress(
                stage=stage,
                frames_expected=frames_expected,
                frames_analysed=_sum(edge_metrics.registry, "vidsight_edge_frames_analysed_total"),
                published=sum(made.values()),
                processed=proc.stats.consumed,
                sensor_events=proc.stats.sensor_events,
                alert_messages=proc.stats.alerts,
                sink_handled=handled,
                sink_expected=expected,
                elapsed_s=time.monotonic() - started,
            )
        )

    def check() -> None:
        for w in workers:
            if w.error is not None:
                raise DemoError(f"{w.name}: {type(w.error).__name__}: {w.error}")
        if time.monotonic() > deadline:
            raise DemoError(f"{stage}: not finished after {timeout_s:.0f}s")

    try:
        while edge_w.alive:
            check()
            report()
            time.sleep(tick_s)
        edge_w.join(0)
        edge_report: RunReport = edge_w.result
        if edge_report.failed or not edge_report.drained:
            failed = ", ".join(f"{c.camera_id}: {c.error}" for c in edge_report.failed)
            raise DemoError(f"edge: {failed or 'events left in the spool (broker down?)'}")

        finish("edge")
        stage = "processor"
        made = published()
        settled = _Settled(settle_s)
        while not settled(proc.stats.consumed, sum(made.values())):
            check()
            report()
            time.sleep(tick_s)
        proc_stop.set()
        proc_w.join(max(1.0, deadline - time.monotonic()))

        finish("processor")
        stage = "sinks"
        sink_settled = {name: _Settled(settle_s) for name in stores}
        while True:
            handled, expected = sink_counts()
            # Every store is checked in every round, so each settles on its own clock.
            done = [sink_settled[n](handled[n], expected[n]) for n in stores]
            if all(done):
                break
            check()
            report()
            time.sleep(tick_s)
        sink_stop.set()
        sinks_w.join(max(1.0, deadline - time.monotonic()))
        result: ServiceResult = sinks_w.result
        if result.errors:
            name, exc = next(iter(result.errors.items()))
            raise DemoError(f"sinks: {name}: {type(exc).__name__}: {exc}")
        finish("sinks")
        stage = "done"
        report()
    finally:
        edge_stop.set()
        proc_stop.set()
        sink_stop.set()
        for w in workers:
            if w.thread is not None:
                w.thread.join(30.0)
    return PipelineResult(
        edge=edge_report,
        published=dict(published()),
        processor=proc.stats,
        sinks=dict(result.stats),
        elapsed_s=time.monotonic() - started,
        stage_s=stage_s,
    )
