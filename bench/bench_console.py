"""Benchmark of the operator console: alert produced -> visible in an open page.

Needs a running local stack (``vidsight up``; kafka, schema-registry and postgres are used) and
Debian's chromium with Playwright for Python. Serves a console in this process (its live feed
reading ``vidsight.alerts`` from the end), opens the alerts page in headless chromium, then
produces ``--alerts`` alerts one at a time, each timed from just before ``produce()`` until a
MutationObserver in the page sees its row appear (the page's own clock: ``performance``), and
reports p50/p99. The raw baseline, in the same run on the same broker: a plain confluent-kafka
consumer reading the same topic with the same fetch wait as the console's feed, each record
timed from just before ``produce()`` until ``poll()`` returns it.

    python bench/bench_console.py [--data-dir .vidsight] [--alerts 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

import console_support as cs

from schemas import catalog
from schemas.serde import Serde
from vidsight.console import ConsoleSettings
from vidsight.settings import Endpoints, load

OBSERVER = """() => {
  window.__seen = {};
  const rows = document.querySelector('#alert-rows');
  new MutationObserver((muts) => {
    const now = performance.timeOrigin + performance.now();
    for (const m of muts) for (const n of m.addedNodes)
      if (n.dataset && n.dataset.alertId && !(n.dataset.alertId in window.__seen))
        window.__seen[n.dataset.alertId] = now;
  }).observe(rows, {childList: true});
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_baseline(endpoints: Endpoints, serde: Serde, n: int) -> list[float]:
    consumer = Consumer(endpoints.kafka_client_config(**{
        "group.id": f"bench-console-raw-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
        "fetch.wait.max.ms": 20}))  # fmt: skip
    meta = consumer.list_topics(catalog.ALERTS, timeout=10).topics[catalog.ALERTS]
    consumer.assign([TopicPartition(catalog.ALERTS, p, OFFSET_END) for p in meta.partitions])
    consumer.poll(1.0)
    time.sleep(1.0)
    producer = Producer(endpoints.kafka_client_config(**{"enable.idempotence": False,
                                                         "linger.ms": 0}))  # fmt: skip
    out = []
    try:
        for _ in range(n):
            alert = cs.make_alert(f"bench-raw-{uuid.uuid4().hex[:6]}")
            value = serde.encode(catalog.ALERTS, alert)
            t0 = time.time()
            producer.produce(catalog.ALERTS, value, alert.camera_id.encode())
            producer.poll(0)
            while True:
                msg = consumer.poll(5.0)
                if msg is not None and msg.error() is None and msg.value() == value:
                    out.append((time.time() - t0) * 1000)
                    break
    finally:
        producer.flush(10)
        consumer.close()
    return out


def browser_latency(endpoints: Endpoints, serde: Serde, data_dir: Path, n: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    settings = load(ConsoleSettings, data_dir=data_dir, port=cs.free_port(),
                    console_password=SecretStr(cs.PASSWORD),
                    console_session_secret=SecretStr(cs.SESSION_KEY))  # fmt: skip
    out = []
    with cs.serve(settings) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])  # fmt: skip
        page = browser.new_context(bypass_csp=True).new_page()
        page.goto(base + "/login")
        page.fill("input[name=user]", "operator")
        page.fill("input[name=password]", cs.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-loaded='1']")
        page.wait_for_selector("#live.on")
        page.evaluate(OBSERVER)
        producer = Producer(endpoints.kafka_client_config(**{"enable.idempotence": False,
                                                             "linger.ms": 0}))  # fmt: skip
        for _ in range(n):
            alert = cs.make_alert(f"bench-{uuid.uuid4().hex[:6]}")
            value = serde.encode(catalog.ALERTS, alert)
            t0 = time.time() * 1000
            producer.produce(catalog.ALERTS, value, alert.camera_id.encode())
            producer.poll(0)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                seen = page.evaluate(f"window.__seen[{alert.alert_id!r}]")
                if seen is not None:
                    out.append(seen - t0)
                    break
                time.sleep(0.002)
        producer.flush(10)
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".vidsight"))
    parser.add_argument("--alerts", type=int, default=200)
    args = parser.parse_args()
    endpoints = load(Endpoints, data_dir=args.data_dir)
    serde = Serde.for_registry(endpoints)
    raw = raw_baseline(endpoints, serde, args.alerts)
    page = browser_latency(endpoints, serde, args.data_dir, args.alerts)
    print(f"{'path':<44} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in (("raw produce -> consume (confluent-kafka)", raw),
                         ("produce -> row visible in the page (chromium)", page)):  # fmt: skip
        print(f"{name:<44} {len(values):>4} {pct(values, 0.5):>8.1f} {pct(values, 0.99):>8.1f} "
              f"{statistics.fmean(values):>8.1f}")  # fmt: skip
    print(
        f"ratio page/raw: p50 {pct(page, 0.5) / pct(raw, 0.5):.2f}x, "
        f"p99 {pct(page, 0.99) / pct(raw, 0.99):.2f}x"
    )


if __name__ == "__main__":
    main()
