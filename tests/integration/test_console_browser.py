"""The console in a real headless browser (Debian's chromium driven by Playwright).

Skipped, saying why, where no chromium executable or no Playwright is installed (Playwright
cannot download browsers here: it drives the system one). Screenshots of every page go to the
test's output directory.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import console_support as cs
import pytest

from schemas.registration import register_all
from schemas.serde import Serde
from stream_processors.rules.fpmemory import FalsePositiveMemory, box_of
from stream_processors.runtime import sensors_topic
from vidsight.console.writes import processor_settings

pytestmark = pytest.mark.integration
expect: Any = None  # playwright.sync_api.expect, imported by the browser fixture

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def chromium_path() -> str | None:
    for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(name).is_file():
            return name
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable (apt-get install chromium); the browser tests need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[dev]')")
    global expect
    from playwright.sync_api import expect

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def console(catalog_topics: Any) -> Iterator[tuple[Any, str]]:
    register_all(catalog_topics.endpoints)
    cs.ensure_schema(catalog_topics)
    with cs.serve(cs.console_settings(catalog_topics)) as base:
        yield catalog_topics, base


@pytest.fixture
def page(browser: Any, console: tuple[Any, str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(15_000)
    messages: list[str] = []
    p.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    p.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    p.goto(console[1] + "/")
    assert p.url.endswith("/login")
    p.fill("input[name=user]", "operator")
    p.fill("input[name=password]", cs.PASSWORD)
    p.click("button[type=submit]")
    try:
        p.wait_for_selector("body[data-page=alerts][data-loaded='1']")
        p.wait_for_selector("#live.on")
        yield p
    except Exception as exc:
        raise AssertionError(f"{exc}\nbrowser console:\n" + "\n".join(messages)) from exc
    finally:
        context.close()


def test_alerts_page_loads_and_a_produced_alert_appears_without_reload(
    page: Any, console: tuple[Any, str], tmp_path: Path
) -> None:
    stack = console[0]
    page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)
    page.evaluate("window.__marker = 'same page'")
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    alert = cs.make_alert(cam, evidence_uri=cs.upload_evidence(stack, cam))
    cs.produce_alert(stack, Serde.for_registry(stack.endpoints), alert)
    row = page.wait_for_selector(f"tr[data-alert-id='{alert.alert_id}']", timeout=10_000)
    assert cam in row.inner_text()
    assert page.evaluate("window.__marker") == "same page"  # no reload happened
    # (waits poll through locators: the console's CSP forbids the eval wait_for_function uses)
    thumb = page.locator(f"tr[data-alert-id='{alert.alert_id}'] img")
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(tmp_path / "alerts-live.png"), full_page=True)
    assert (tmp_path / "alerts.png").stat().st_size > 0


def test_false_positive_click_publishes_feedback_the_processor_learns(
    page: Any, console: tuple[Any, str], tmp_path: Path
) -> None:
    stack = console[0]
    serde = Serde.for_registry(stack.endpoints)
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    sensor = f"line-{cam}"
    api = cs.login(console[1])
    line = {"camera": cam, "kind": "tripwire", "points": [[0.45, 0.05], [0.45, 0.95]]}
    assert api.put(f"/api/sensors/{sensor}", json=line).status_code == 200
    api.close()
    alert = cs.make_alert(cam, sensor, evidence_uri=cs.upload_evidence(stack, cam))
    cs.insert_alert(stack, alert)
    page.goto(f"{console[1]}/alerts/{alert.alert_id}")
    page.wait_for_selector("body[data-loaded='1']")
    page.wait_for_selector("#live.on")
    page.wait_for_selector("#overlay rect.alert-box")
    page.wait_for_selector("#overlay polyline.geom", state="attached")  # the sensor's line
    page.select_option("#reason", "lighting")
    page.fill("#note", "lamp by the gate")
    page.click("#false-positive")
    expect(page.locator("#verdict-status")).to_contain_text("recorded: ", timeout=15_000)
    status = page.inner_text("#verdict-status")
    assert "false_positive by operator" in status
    assert page.inner_text("#review") == "false_positive"
    page.screenshot(path=str(tmp_path / "alert-detail.png"), full_page=True)
    # The Feedback event on the topic, with the operator's identity, and the processor's
    # false-positive memory (the rules core the worker feeds from that topic) learns its box.
    record = _latest_feedback(stack, serde, alert.alert_id)
    assert record.operator == "operator" and record.verdict.value == "false_positive"
    assert record.note == "reason: lighting; note: lamp by the gate"
    memory = FalsePositiveMemory(100)
    memory.apply(record, record.label or "*", tuple(box_of(b) for b in record.boxes))
    assert alert.bbox is not None
    assert memory.matches("person", box_of(alert.bbox), 0.5)
    assert not memory.matches("person", (0.0, 0.0, 0.1, 0.1), 0.5)


def _latest_feedback(stack: Any, serde: Serde, alert_id: str) -> Any:
    from confluent_kafka import Consumer, TopicPartition

    from schemas import catalog
    from schemas.records import Feedback

    consumer = Consumer(stack.endpoints.kafka_client_config(**{"group.id": "t-fb"}))
    codec = serde.topic(catalog.FEEDBACK, Feedback)
    try:
        meta = consumer.list_topics(catalog.FEEDBACK, timeout=10).topics[catalog.FEEDBACK]
        consumer.assign([TopicPartition(catalog.FEEDBACK, p, 0) for p in meta.partitions])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None and msg.value():
                    record = codec.decode(msg.value())
                    if record.alert_id == alert_id:
                        return record
    finally:
        consumer.close()
    raise AssertionError(f"no feedback for {alert_id} on {catalog.FEEDBACK}")


def test_cameras_page(page: Any, console: tuple[Any, str], tmp_path: Path) -> None:
    stack = console[0]
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    cs.insert_alert(stack, cs.make_alert(cam, evidence_uri=cs.upload_evidence(stack, cam)))
    page.goto(console[1] + "/cameras")
    page.wait_for_selector("body[data-loaded='1']")
    card = page.wait_for_selector(f"article[data-camera-id='{cam}']")
    assert "open alerts: 1" in card.inner_text()
    assert "read models not running" in page.inner_text("#status")
    page.screenshot(path=str(tmp_path / "cameras.png"), full_page=True)


def test_sensor_editor_saves_a_tripwire_the_sensors_topic_then_lists(
    page: Any, console: tuple[Any, str], tmp_path: Path
) -> None:
    stack = console[0]
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    cs.insert_alert(stack, cs.make_alert(cam, evidence_uri=cs.upload_evidence(stack, cam)))
    sid = f"line-{uuid.uuid4().hex[:6]}"
    page.goto(f"{console[1]}/editor?camera={cam}")
    page.wait_for_selector("body[data-loaded='1']")
    page.fill("#sensor-id", sid)
    page.select_option("#kind", "tripwire")
    page.select_option("#direction", "a_to_b")
    box = page.locator("#overlay").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.1)
    page.click("#validate")
    page.wait_for_selector("#errors li")
    assert "points" in page.inner_text("#errors")  # one point: what the CLI would say too
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.9)
    page.wait_for_selector("#overlay line.arrow", state="attached")
    page.screenshot(path=str(tmp_path / "editor.png"), full_page=True)
    page.click("#save")
    expect(page.locator("#save-status")).to_contain_text("saved:", timeout=15_000)
    settings = processor_settings(cs.console_settings(stack))
    current = sensors_topic.read_current(settings, Serde.for_registry(stack.endpoints))
    saved = current[sid]
    assert saved.camera_id == cam and saved.kind.value == "tripwire"
    assert saved.direction.value == "a_to_b"
    (p0, p1) = saved.points
    assert abs(p0.x - 0.5) < 0.02 and abs(p0.y - 0.1) < 0.02
    assert abs(p1.x - 0.5) < 0.02 and abs(p1.y - 0.9) < 0.02
    page.screenshot(path=str(tmp_path / "editor-saved.png"), full_page=True)
