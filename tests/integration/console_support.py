"""Helpers of the console integration tests (no tests here): a real console served by uvicorn
in a thread over the test stack, a logged-in HTTP client, and alerts/evidence/rows to show."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import uvicorn
from confluent_kafka import Consumer, Producer, TopicPartition

from schemas import catalog
from schemas.records import (
    Alert,
    AlertLifecycle,
    BBox,
    Feedback,
    SensorEventKind,
    SensorKind,
    Severity,
    alert_id,
    now_micros,
)
from schemas.serde import Serde
from sinks.postgres.migrate import migrate
from vidsight.console import ConsoleSettings, create_app
from vidsight.settings import load

PASSWORD = "test-operator-password-1"
SESSION_KEY = "k" * 43


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def console_settings(stack: Any, **overrides: Any) -> ConsoleSettings:
    values: dict[str, Any] = {
        "data_dir": stack.data_dir,
        "host": "127.0.0.1",
        "port": free_port(),
        "console_password": PASSWORD,
        "console_session_secret": SESSION_KEY,
        "readmodels_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
    }
    values.update(overrides)
    return load(ConsoleSettings, **values)


@contextmanager
def serve(settings: ConsoleSettings) -> Iterator[str]:
    """The console on its port until the block ends; yields its base URL once the feed is up."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning",
        timeout_graceful_shutdown=1, lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://{settings.host}:{settings.port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").json().get("feed") == "ready":
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        raise AssertionError("the console's live feed did not come up")
    time.sleep(1.0)  # the feed's OFFSET_END resolves on its first fetch
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def login(base: str, user: str = "operator", password: str = PASSWORD) -> httpx.Client:
    """A client holding a session cookie, with the session's CSRF token as a default header."""
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    resp = client.post("/login", data={"csrf": token.group(1), "user": user, "password": password})
    assert resp.status_code == 303, resp.text
    csrf = client.get("/api/session").json()["csrf_token"]
    client.headers["X-CSRF-Token"] = csrf
    return client


def ensure_schema(stack: Any) -> None:
    with psycopg.connect(stack.postgres_dsn) as conn:
        migrate(conn)


def make_alert(camera: str, sensor: str = "s-line", *, lifecycle: str = "new",
               revision: int = 0, start_us: int | None = None, rule: str = "tripwire",
               severity: str = "medium", evidence_uri: str | None = None) -> Alert:  # fmt: skip
    start = start_us if start_us is not None else now_micros()
    return Alert(
        alert_id=alert_id(camera, sensor, start),
        camera_id=camera,
        sensor_id=sensor,
        kind=SensorEventKind.LINE_CROSS if rule == "tripwire" else SensorEventKind.ZONE_ENTER,
        rule=SensorKind(rule),
        lifecycle=AlertLifecycle(lifecycle),
        revision=revision,
        severity=Severity(severity),
        label="person",
        top_score=0.9,
        start_ts=start,
        end_ts=start + 5_000_000 if lifecycle == "end" else None,
        updated_ts=start + revision * 1_000_000,
        evidence_uri=evidence_uri,
        track_ids=(7,),
        event_count=1 + revision,
        direction=None,
        bbox=BBox(x1=0.4, y1=0.3, x2=0.5, y2=0.7),
    )


def insert_alert(stack: Any, a: Alert) -> None:
    """The row the PostgreSQL sink would write for this alert state."""
    import datetime as dt

    def t(us: int | None) -> dt.datetime | None:
        return None if us is None else dt.datetime.fromtimestamp(us / 1e6, tz=dt.UTC)

    b = a.bbox
    with psycopg.connect(stack.postgres_dsn) as conn:
        conn.execute(
            "INSERT INTO alerts VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (alert_id) DO NOTHING",
            (a.alert_id, a.camera_id, a.sensor_id, a.kind.value, a.rule.value,
             a.lifecycle.value, a.revision, a.severity.value, a.label, a.top_score,
             t(a.start_ts), t(a.end_ts), t(a.updated_ts), a.evidence_uri, list(a.track_ids),
             a.event_count, None, None if b is None else [b.x1, b.y1, b.x2, b.y2]),
        )  # fmt: skip


def insert_verdict(stack: Any, a: Alert, verdict: str) -> None:
    with psycopg.connect(stack.postgres_dsn) as conn:
        conn.execute(
            "INSERT INTO feedback VALUES (%s,%s,%s,%s,%s,'tester',now(),NULL,'[]'::jsonb,NULL)",
            (str(uuid.uuid4()), a.alert_id, a.camera_id, a.sensor_id, verdict),
        )


def produce_alert(stack: Any, serde: Serde, a: Alert) -> None:
    producer = Producer(stack.endpoints.kafka_client_config(**{"enable.idempotence": False}))
    producer.produce(catalog.ALERTS, serde.encode(catalog.ALERTS, a), a.camera_id.encode())
    producer.flush(10)


def jpeg_bytes(width: int = 320, height: int = 180) -> bytes:
    import cv2
    import numpy as np

    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[:, :, 1] = 60
    img[height // 3 : 2 * height // 3, width // 3 : width // 2] = 200
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf)


def upload_evidence(stack: Any, camera: str, data: bytes | None = None) -> str:
    from vidsight.s3 import s3_client

    ts = now_micros()
    key = f"evidence/{camera}/2026/01/01/00/{ts}.jpg"
    s3_client(stack.endpoints, timeout_s=10, path_style=True).put_object(
        Bucket=stack.endpoints.s3_bucket, Key=key, Body=data or jpeg_bytes()
    )
    return f"s3://{stack.endpoints.s3_bucket}/{key}"


def feedback_on_topic(
    stack: Any, serde: Serde, feedback_id: str, timeout_s: float = 20.0
) -> Feedback:
    """The Feedback record with this id, read from the whole feedback topic."""
    consumer = Consumer(
        stack.endpoints.kafka_client_config(
            **{"group.id": f"t-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
        )
    )
    codec = serde.topic(catalog.FEEDBACK, Feedback)
    try:
        meta = consumer.list_topics(catalog.FEEDBACK, timeout=10).topics[catalog.FEEDBACK]
        consumer.assign([TopicPartition(catalog.FEEDBACK, p, 0) for p in meta.partitions])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None and msg.value():
                    record = codec.decode(msg.value())
                    if record.feedback_id == feedback_id:
                        return record
    finally:
        consumer.close()
    raise AssertionError(f"feedback {feedback_id} is not on {catalog.FEEDBACK}")
