"""The faust app factory, without a broker: no app at import, tables co-partitioned with their
sources and keyed by raw camera-id bytes, routed pages, and the local-broker tuning in the
clients faust would create (fetch wait, one-record batches, session timeout)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import catalog
from schemas.serde import InMemorySchemaResolver, Serde
from stream_processors.readmodels.app import ReadModels, create_app, faust_options
from stream_processors.readmodels.settings import ReadModelSettings

ROOT = Path(__file__).resolve().parents[3]
SOURCES = (catalog.SENSOR_EVENTS, catalog.ALERTS, catalog.FEEDBACK)


@pytest.fixture
def settings(tmp_path: Path) -> ReadModelSettings:
    return ReadModelSettings(
        data_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:19092,127.0.0.2:19093",
        web_port=7100,
        fetch_max_wait_ms=42,
        session_timeout_s=4.5,
        heartbeat_interval_s=1.5,
    )


@pytest.fixture
def models(settings: ReadModelSettings) -> Iterator[ReadModels]:
    yield create_app(settings, serde=Serde(InMemorySchemaResolver()))


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_the_cli_module_imports_no_faust() -> None:
    # `vidsight --help` must not pay for importing faust
    _python(
        "import sys, stream_processors.readmodels.cli\n"
        "assert 'faust' not in sys.modules, 'the readmodels CLI imported faust'"
    )


def test_importing_every_module_creates_no_app() -> None:
    modules = ", ".join(
        f"stream_processors.readmodels.{p.stem}"
        for p in (ROOT / "stream_processors" / "readmodels").glob("*.py")
        if p.stem not in ("__init__", "__main__")
    )
    _python(
        f"import gc, faust, {modules}\n"
        "assert not [o for o in gc.get_objects() if isinstance(o, faust.App)], 'an app at import'"
    )


def test_tables_are_co_partitioned_and_keyed_by_raw_bytes(models: ReadModels) -> None:
    sources = {catalog.topic(n).partitions for n in SOURCES}
    names = [t.name for t in models.tables]
    assert names == ["occupancy", "crossings", "open_alerts", "fp_verdicts"]
    for t in models.tables:
        assert {t.table.partitions} == sources
        assert (t.table.key_serializer, t.table.value_serializer) == ("raw", "raw")
        topic = t.table.changelog_topic
        assert topic.get_topic_name() == f"vidsight-readmodels-{t.name}-changelog"
        # the router hashes exactly the bytes the producers keyed the source record with
        assert topic.prepare_key("cam-1", None)[0] == b"cam-1"


def test_pages_are_registered(models: ReadModels) -> None:
    paths = set(models.app.web.views)
    assert {
        "/state/occupancy/{camera_id}",
        "/state/crossings/{camera_id}",
        "/state/crossings/{camera_id}/{sensor_id}",
        "/state/alerts/open/{camera_id}",
        "/state/feedback/{camera_id}",
        "/metrics",
    } <= paths


def test_agents_read_the_three_topics(models: ReadModels) -> None:
    topics = {name for agent in models.app.agents.values() for name in agent.channel.topics}
    assert topics == set(SOURCES)


def test_faust_options(settings: ReadModelSettings) -> None:
    opts = faust_options(settings, 12)
    assert opts["broker"] == ["kafka://127.0.0.1:19092", "kafka://127.0.0.2:19093"]
    assert opts["env"] == {} and opts["processing_guarantee"] == "at_least_once"
    assert opts["canonical_url"] == "http://127.0.0.1:7100"
    assert opts["producer_max_batch_size"] == 1 and opts["producer_linger"] == 0
    assert opts["topic_partitions"] == 12


def test_clients_get_the_local_broker_tuning(models: ReadModels) -> None:
    app = models.app
    assert app.conf.broker_session_timeout == 4.5
    assert app.conf.producer_max_batch_size == 1

    async def build() -> tuple[int, int, int, bool]:
        thread = app.consumer._thread  # type: ignore[attr-defined]
        consumer = thread._create_worker_consumer(app.transport)
        producer = app.producer._new_producer()  # type: ignore[attr-defined]
        try:
            return (
                consumer._fetch_max_wait_ms,
                consumer._session_timeout_ms,
                producer._message_accumulator._batch_size,
                producer._txn_manager is None,  # no idempotence, no transactions
            )
        finally:
            await consumer.stop()
            await producer.stop()

    fetch_wait, session_ms, batch_size, plain = asyncio.run(build())
    assert (fetch_wait, session_ms, batch_size, plain) == (42, 4500, 1, True)
