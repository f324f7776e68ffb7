"""ClickHouse columns from records, the schema statements and error classification (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from schemas import catalog
from schemas.records import DetectedObject
from sinks.batching import Batch, Item, SourceMessage
from sinks.clickhouse import columns, ddl, migrate
from sinks.clickhouse.sink import DATA_ERROR_CODES, dedup_token, error_code
from sinks.errors import RecordDataError
from tests.support import samples

SCENE = samples.scene(2, 40)


def items(topic: str, records: list) -> list[Item]:  # type: ignore[type-arg]
    return [Item(SourceMessage(topic, 3, 100 + i, b"k", b"v", 0), r) for i, r in enumerate(records)]


def test_one_row_per_object_with_the_frames_values_repeated() -> None:
    dets = SCENE.detections[:5]
    cols, rows = columns.detection_columns(items(catalog.DETECTIONS, dets))
    assert rows == sum(len(d.objects) for d in dets)
    named = dict(zip(ddl.DETECTIONS.names, cols, strict=True))
    assert all(len(c) == rows for c in cols)
    first = dets[0]
    n = len(first.objects)
    assert named["event_id"][:n] == [first.event_id] * n
    assert named["object_index"][:n] == list(range(n))
    assert named["frame_ts"][:n] == [first.frame_ts] * n, "int micros = DateTime64(6) ticks"
    assert named["label"][:n] == [o.label for o in first.objects]
    assert named["x2"][:n] == [o.bbox.x2 for o in first.objects]
    assert named["_partition"][0] == 3
    assert named["_offset"][:n] == [100] * n


def test_a_frame_without_objects_makes_no_rows() -> None:
    empty = replace(SCENE.detections[0], objects=())
    cols, rows = columns.detection_columns(items(catalog.DETECTIONS, [empty]))
    assert rows == 0
    assert all(c == [] for c in cols)


def test_sensor_event_and_alert_rows_fit_their_tables() -> None:
    m = SourceMessage(catalog.SENSOR_EVENTS, 1, 7, b"k", b"v", 0)
    crossing = next(e for e in SCENE.sensor_events if e.direction is not None)
    named = columns.sensor_event_row(crossing, m)
    assert list(named) == list(ddl.SENSOR_EVENTS.names)
    assert named["direction"] in ("a_to_b", "b_to_a")
    assert (named["_partition"], named["_offset"]) == (1, 7)
    zone = next(e for e in SCENE.sensor_events if e.direction is None)
    assert columns.sensor_event_row(zone, m)["direction"] is None
    alert = columns.alert_row(SCENE.alerts[1], m)
    assert list(alert) == list(ddl.ALERTS.names)
    assert alert["revision"] == 1


def test_row_columns_pivots_in_table_order_and_refuses_rows_that_miss_columns() -> None:
    table = ddl.FactTable("t", "topic", (("a", "UInt8"), ("b", "String")))
    assert columns.row_columns(table, [{"b": "x", "a": 1}, {"a": 2, "b": "y"}]) == [
        [1, 2],
        ["x", "y"],
    ]
    assert columns.row_columns(table, []) == [[], []]
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        columns.row_columns(table, [{"a": 1, "c": 2}])


def test_check_refuses_what_the_columns_cannot_hold() -> None:
    m = SourceMessage(catalog.DETECTIONS, 0, 0, None, b"", 0)
    obj = SCENE.detections[0].objects[0]
    crowded = replace(SCENE.detections[0], objects=(obj,) * (columns.MAX_OBJECTS + 1))
    with pytest.raises(RecordDataError, match="objects on one frame"):
        columns.check(m, crowded)
    with pytest.raises(RecordDataError):
        columns.check(m, replace(SCENE.alerts[0], revision=-1))
    with pytest.raises(RecordDataError):
        columns.check(m, SCENE.cameras[0])
    assert columns.check(m, SCENE.sensor_events[0]) is SCENE.sensor_events[0]


def test_dedup_token_names_the_partition_range() -> None:
    batch: Batch[DetectedObject] = Batch(catalog.DETECTIONS, 4, 10, 19, [])
    assert dedup_token(batch) == "vidsight.detections:4:10-19"
    # A topic made anew numbers offsets from 0 again: its inserts must not look like repeats.
    assert dedup_token(batch, "ab" * 16) == f"vidsight.detections@{'ab' * 16}:4:10-19"


def test_inserts_send_the_topic_id_after_the_built_columns() -> None:
    for table in ddl.FACT_TABLES:
        assert table.insert_names == (*table.names, "_topic_id")
        assert len(table.insert_types) == len(table.insert_names)
        assert "`_topic_id` LowCardinality(String) DEFAULT ''" in _created(table.name)
    assert any("ADD COLUMN IF NOT EXISTS `_topic_id`" in st for st in _statements())


def test_error_codes_are_read_from_the_error() -> None:
    assert error_code(DatabaseError("x", code=53)) == 53
    assert error_code(DatabaseError("Received ClickHouse exception, code: 27, ...")) == 27
    assert error_code(DatabaseError("connection reset")) is None
    assert 53 in DATA_ERROR_CODES and 241 not in DATA_ERROR_CODES  # memory limit: retry


def _statements() -> list[str]:
    return [st for m in migrate.load() for st in migrate.statements(m, "db")]


def _created(table: str) -> str:
    (sql,) = (
        st for st in _statements() if st.startswith(f"CREATE TABLE IF NOT EXISTS db.{table}\n")
    )
    return sql


def test_fact_tables_deduplicate_and_replace_on_the_id() -> None:
    for table in ddl.FACT_TABLES:
        sql = _created(table.name)
        assert "ReplacingMergeTree" in sql
        assert "non_replicated_deduplication_window = 1000" in sql
        assert "_offset" in table.names and "_partition" in table.names
    assert "ReplacingMergeTree(revision)" in _created(ddl.ALERTS.name)


def test_migrations_create_rollups_and_offsets_and_drops_remove_them() -> None:
    created = "\n".join(_statements())
    for rollup in ddl.ROLLUPS:
        assert f"CREATE TABLE IF NOT EXISTS db.{rollup}" in created
        assert f"CREATE MATERIALIZED VIEW IF NOT EXISTS db.{rollup}_mv TO db.{rollup}" in created
    for t in ddl.FACT_TABLES:
        assert "offset_minmax _offset TYPE minmax" in _created(t.name)
    dropped = ddl.drops("db")
    assert dropped[0].startswith("DROP VIEW")  # views before the tables they read
    assert {d.split()[-1] for d in dropped} >= {f"db.{t.name}" for t in ddl.FACT_TABLES}


def test_every_projected_topic_has_a_table() -> None:
    from sinks.clickhouse import ClickHouseSink

    assert (
        set(ClickHouseSink.topics)
        == set(ddl.BY_TOPIC)
        == {
            catalog.DETECTIONS,
            catalog.SENSOR_EVENTS,
            catalog.ALERTS,
            catalog.HEALTH,
        }
    )
