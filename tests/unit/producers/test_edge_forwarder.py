"""The forwarder's bookkeeping: the checkpoint follows the delivered prefix; failures re-send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError

from producers.events import SchemaStash
from producers.forwarder import KafkaForwarder, _InFlight
from producers.metrics import EdgeMetrics
from producers.spool import Spool
from schemas.serde import InMemorySchemaResolver


class _Msg:
    def key(self) -> bytes:
        return b"cam"


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    spool = Spool(tmp_path / "spool")
    for i in range(6):
        spool.append(b"%d" % i)
    records = spool.read()
    metrics = EdgeMetrics()
    fwd = KafkaForwarder(
        spool,
        {"bootstrap.servers": "127.0.0.1:1"},
        InMemorySchemaResolver(),
        SchemaStash(tmp_path / "schemas"),
        metrics,
    )
    entries = [_InFlight(r.end, "vidsight.frames", 1) for r in records]
    fwd._inflight.extend(entries)
    yield spool, fwd, entries, metrics
    spool.close()


def test_the_checkpoint_follows_the_delivered_prefix(setup: Any) -> None:
    spool, fwd, entries, metrics = setup
    fwd._delivered(entries[1], None, _Msg())
    fwd._delivered(entries[2], None, _Msg())
    fwd._settle()
    assert spool.stats().pending_records == 6  # entry 0 is not delivered yet
    fwd._delivered(entries[0], None, _Msg())
    fwd._settle()
    assert spool.stats().pending_records == 3
    assert fwd.acked == 3
    assert metrics.published.labels("vidsight.frames")._value.get() == 3


def test_a_retriable_failure_re_sends_from_the_checkpoint(setup: Any) -> None:
    spool, fwd, entries, metrics = setup
    fwd._delivered(entries[0], None, _Msg())
    fwd._delivered(entries[1], KafkaError(KafkaError._TRANSPORT), _Msg())
    fwd._delivered(entries[2], None, _Msg())
    fwd._settle()
    assert fwd._rewind and len(fwd._inflight) == 5  # waits for the rest of the window
    for e in entries[3:]:
        fwd._delivered(e, None, _Msg())
    fwd._settle()
    assert not fwd._inflight  # forgotten: everything from entry 1 on is sent again
    spool.rewind()
    assert [r.payload for r in spool.read()] == [b"1", b"2", b"3", b"4", b"5"]
    assert metrics.publish_failures.labels("retriable")._value.get() == 1


def test_unknown_errors_retry_and_only_permanent_ones_skip(setup: Any) -> None:
    spool, fwd, entries, metrics = setup
    fwd._delivered(entries[0], KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Msg())
    fwd._settle()
    assert not fwd._rewind and spool.stats().pending_records == 5  # skipped, counted
    assert metrics.publish_failures.labels("rejected")._value.get() == 1
    fwd._delivered(entries[1], KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER), _Msg())
    assert fwd._rewind


def test_reports_from_a_replaced_producer_are_ignored(setup: Any) -> None:
    _, fwd, entries, _ = setup
    fwd._generation += 1
    fwd._delivered(entries[0], None, _Msg())
    assert not entries[0].done
