"""Heartbeats projected: PostgreSQL camera_status (latest per key) and ClickHouse camera_health
(every heartbeat), as pure rows."""

from __future__ import annotations

from dataclasses import replace

from schemas import catalog
from schemas.records import HealthState, Heartbeat, heartbeat_id
from sinks.batching import Item, SourceMessage
from sinks.clickhouse import columns, ddl
from sinks.postgres import rows as pg

TS = 1_700_000_000_000_000


def beat(ts: int = TS, camera: str | None = "gate-1", **kw: object) -> Heartbeat:
    values: dict[str, object] = {
        "heartbeat_id": heartbeat_id("edge-a", camera, ts),
        "node_id": "edge-a",
        "site": "north",
        "camera_id": camera,
        "state": HealthState.STREAMING,
        "configured_fps": 5.0,
        "decoded_fps": 25.0,
        "analysed_fps": 5.0,
        "frames_decoded": 1000,
        "frames_analysed": 200,
        "last_frame_ts": ts - 40_000,
        "interval_s": 5.0,
        "ts": ts,
    }
    values.update(kw)
    return Heartbeat(**values)  # type: ignore[arg-type]


def test_camera_status_row_is_keyed_by_camera_or_node_and_versioned_by_ts() -> None:
    op = pg.to_op(catalog.HEALTH, b"gate-1", beat())
    assert isinstance(op, pg.Upsert)
    assert op.key == "gate-1" and op.version == (TS,)
    named = dict(zip(pg.CAMERA_STATUS.names, op.row, strict=True))
    assert named["state"] == "streaming" and named["node_id"] == "edge-a"
    assert named["last_frame_ts"].timestamp() * 1e6 == TS - 40_000
    node = pg.to_op(catalog.HEALTH, b"node:edge-a", beat(camera=None, spool_depth=7))
    assert isinstance(node, pg.Upsert) and node.key == "node:edge-a"
    assert dict(zip(pg.CAMERA_STATUS.names, node.row, strict=True))["spool_depth"] == 7
    assert pg.TABLES[catalog.HEALTH] is pg.CAMERA_STATUS


def test_only_the_newest_heartbeat_of_a_key_survives_a_batch() -> None:
    newer = beat(TS + 5_000_000, state=HealthState.RECONNECTING)
    ops = [pg.to_op(catalog.HEALTH, None, b) for b in (beat(), newer, beat(TS + 1))]
    upserts, deletes = pg.compact(ops)
    assert deletes == [] and [u.version for u in upserts] == [(TS + 5_000_000,)]


def test_camera_health_rows_fit_the_table() -> None:
    beats = [beat(), beat(TS + 5_000_000, camera=None, spool_depth=3, last_frame_ts=None)]
    items = [
        Item(SourceMessage(catalog.HEALTH, 2, 50 + i, b"k", b"v", 0), b)
        for i, b in enumerate(beats)
    ]
    for item in items:
        assert columns.check(item.message, item.value) is item.value
    cols, n = columns.columns_for(ddl.CAMERA_HEALTH.name, items)
    assert n == 2
    named = dict(zip(ddl.CAMERA_HEALTH.names, cols, strict=True))
    assert named["key"] == ["gate-1", "node:edge-a"]
    assert named["camera_id"] == ["gate-1", None]
    assert named["last_frame_ts"] == [TS - 40_000, None]
    assert named["ts"] == [TS, TS + 5_000_000], "int micros = DateTime64(6) ticks"
    assert named["_offset"] == [50, 51]
    assert ddl.BY_TOPIC[catalog.HEALTH] is ddl.CAMERA_HEALTH


def test_a_heartbeat_with_a_failed_state_keeps_its_error() -> None:
    failed = replace(beat(), state=HealthState.FAILED, error="no such file")
    op = pg.to_op(catalog.HEALTH, b"gate-1", failed)
    assert isinstance(op, pg.Upsert)
    named = dict(zip(pg.CAMERA_STATUS.names, op.row, strict=True))
    assert (named["state"], named["error"]) == ("failed", "no such file")
