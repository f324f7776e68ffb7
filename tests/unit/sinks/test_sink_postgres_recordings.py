"""Recording references become immutable rows of the recordings table (migration 0002)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from schemas import catalog
from schemas.records import RecordingMode, RecordingSegment, from_micros, recording_segment_id
from sinks.errors import RecordDataError
from sinks.postgres import rows as r
from sinks.postgres.migrate import migrations_dir, parse
from sinks.postgres.sink import _upsert_sql

TS = 1_700_000_000_000_000
SEGMENT = RecordingSegment(
    segment_id=recording_segment_id("gate-1", TS),
    camera_id="gate-1",
    start_ts=TS,
    end_ts=TS + 10_000_000,
    uri=f"s3://vidsight/recordings/gate-1/2023/11/14/22/{TS}.mp4",
    bytes=1234,
    sha256="ab" * 32,
    codec="h264",
    width=640,
    height=360,
    packets=250,
    keyframe_start=True,
    mode=RecordingMode.CONTINUOUS,
)


def test_a_segment_is_one_row_keyed_by_its_id() -> None:
    op = r.to_op(catalog.RECORDINGS, b"gate-1", SEGMENT)
    assert isinstance(op, r.Upsert) and op.key == SEGMENT.segment_id
    row = dict(zip(r.RECORDINGS.names, op.row, strict=True))
    assert row["segment_id"] == uuid.UUID(SEGMENT.segment_id)
    assert row["start_ts"] == from_micros(TS) and row["end_ts"] == from_micros(TS + 10_000_000)
    assert (row["uri"], row["bytes"], row["mode"]) == (SEGMENT.uri, 1234, "continuous")
    assert r.TABLES[catalog.RECORDINGS] is r.RECORDINGS


def test_a_redelivered_segment_changes_nothing() -> None:
    assert _upsert_sql(r.RECORDINGS, "stage_recordings").as_string(None).endswith("DO NOTHING")


def test_a_segment_tombstone_and_a_bad_id_are_data_errors() -> None:
    with pytest.raises(RecordDataError, match="not a compacted topic"):
        r.to_op(catalog.RECORDINGS, b"gate-1", None)
    with pytest.raises(RecordDataError, match="segment_id"):
        r.recording_row(replace(SEGMENT, segment_id="x"))


def test_the_migration_creates_the_table_the_rows_fill() -> None:
    files = {p.name: p.read_text() for p in migrations_dir().iterdir() if p.name.endswith(".sql")}
    found = {m.name: m.sql for m in parse(files)}
    sql = found["recordings"]
    for column in r.RECORDINGS.names:
        assert f"\n    {column} " in sql, column
    assert "ON recordings (camera_id, start_ts)" in sql
