"""Records to PostgreSQL rows, compaction per key, and the generated SQL (pure)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import catalog
from sinks.errors import RecordDataError
from sinks.postgres import rows as r
from sinks.postgres.sink import _upsert_sql
from tests.support import samples

SCENE = samples.scene(2, 100)


def test_alert_row_holds_the_full_state_with_typed_values() -> None:
    alert = SCENE.alerts[2]  # an `end`
    op = r.alert_row(alert)
    row = dict(zip(r.ALERTS.names, op.row, strict=True))
    assert row["alert_id"] == uuid.UUID(alert.alert_id)
    assert row["lifecycle"] == "end"
    assert row["revision"] == 2
    assert row["start_ts"] == datetime.fromtimestamp(alert.start_ts / 1e6, UTC)
    assert row["end_ts"] is not None
    assert row["track_ids"] == list(alert.track_ids)
    assert row["bbox"] is not None and len(row["bbox"]) == 4
    assert op.version == (alert.revision, alert.updated_ts)


def test_rows_match_their_table_columns() -> None:
    cases = [
        (r.CAMERAS, r.camera_row(SCENE.cameras[0])),
        (r.SENSORS, r.sensor_row(SCENE.sensors[0])),
        (r.ALERTS, r.alert_row(SCENE.alerts[0])),
        (r.FEEDBACK, r.feedback_row(SCENE.feedback[0])),
    ]
    for table, op in cases:
        assert len(op.row) == len(table.columns), table.name
        assert op.row[table.names.index(table.key)] is not None


def test_camera_options_and_sensor_geometry_become_json() -> None:
    cam = r.camera_row(SCENE.cameras[0]).row
    assert cam[r.CAMERAS.names.index("detector_options")] == {"min_area": 0.002}
    sensor = r.sensor_row(SCENE.sensors[0]).row
    assert sensor[r.SENSORS.names.index("points")] == [[0.5, 0.0], [0.5, 1.0]]
    assert sensor[r.SENSORS.names.index("labels")] == ["person", "car"]


def test_a_config_tombstone_deletes_by_message_key() -> None:
    assert r.to_op(catalog.CONFIG_CAMERAS, b"gate-1", None) == r.Delete("gate-1")
    assert r.to_op(catalog.CONFIG_SENSORS, b"gate-1-line", None) == r.Delete("gate-1-line")


@pytest.mark.parametrize(
    ("topic", "key"),
    [(catalog.ALERTS, b"cam"), (catalog.CONFIG_CAMERAS, None), (catalog.CONFIG_CAMERAS, b"\xff")],
)
def test_bad_tombstones_are_data_errors(topic: str, key: bytes | None) -> None:
    with pytest.raises(RecordDataError):
        r.to_op(topic, key, None)


def test_an_id_that_is_not_a_uuid_is_a_data_error() -> None:
    with pytest.raises(RecordDataError, match="not a UUID"):
        r.alert_row(replace(SCENE.alerts[0], alert_id="nope"))


def test_records_of_other_topics_are_refused() -> None:
    with pytest.raises(RecordDataError):
        r.to_op(catalog.ALERTS, b"k", SCENE.detections[0])


def test_compaction_keeps_the_newest_alert_state_whatever_the_order() -> None:
    new, update, end = (r.alert_row(a) for a in SCENE.alerts[:3])
    upserts, deletes = r.compact([end, new, update])
    assert [u.version[0] for u in upserts] == [2]
    assert deletes == []


def test_compaction_later_delete_wins_and_later_upsert_revives() -> None:
    cam = r.camera_row(SCENE.cameras[0])
    upserts, deletes = r.compact([cam, r.Delete(cam.key)])
    assert (upserts, deletes) == ([], [cam.key])
    upserts, deletes = r.compact([r.Delete(cam.key), cam])
    assert (upserts, deletes) == ([cam], [])


versions = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 5), st.booleans()), max_size=30
)


@given(versions)
def test_compaction_equals_applying_the_sql_rule_one_by_one(
    ops: list[tuple[str, int, bool]],
) -> None:
    """Per key, a batch's compaction ends where applying each op in turn would end."""
    seq: list[r.PgOp] = [
        r.Delete(k) if is_delete else r.Upsert(k, (k, v), (v,)) for k, v, is_delete in ops
    ]
    table: dict[str, tuple[int, ...]] = {}
    for op in seq:  # the guard of an upsert: stored version <= incoming
        if isinstance(op, r.Delete):
            table.pop(op.key, None)
        elif op.key not in table or table[op.key] <= op.version:
            table[op.key] = op.version
    upserts, deletes = r.compact(seq)
    assert {u.key: u.version for u in upserts} == table
    assert set(deletes).isdisjoint(table)


def test_upsert_sql_guards_versions() -> None:
    alerts = _upsert_sql(r.ALERTS, "stage_alerts").as_string(None)
    assert 'ON CONFLICT ("alert_id") DO UPDATE' in alerts
    assert (
        'WHERE ROW("alerts"."revision", "alerts"."updated_ts") < '
        'ROW(EXCLUDED."revision", EXCLUDED."updated_ts")'
    ) in alerts
    cameras = _upsert_sql(r.CAMERAS, "stage_cameras").as_string(None)
    assert 'ROW("cameras"."updated_ts") <= ROW(EXCLUDED."updated_ts")' in cameras
    feedback = _upsert_sql(r.FEEDBACK, "stage_feedback").as_string(None)
    assert feedback.endswith("DO NOTHING")


def test_every_projected_topic_has_a_table() -> None:
    from sinks.postgres import PostgresSink

    assert set(r.TABLES) == set(PostgresSink.topics)
