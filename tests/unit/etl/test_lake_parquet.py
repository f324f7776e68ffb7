"""The lake's typed Parquet layout: columns from the Avro schema, sort order, round trip."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from etl.lake.parquet import Message, file_key, lake_schema, to_parquet, to_table

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def schema(stem: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{stem}.avsc").read_text())
    return loaded


def detection(cam: str, ts: int, n: int) -> dict[str, Any]:
    box = {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4}
    objs = [{"track_id": i, "label": "person", "score": 0.5, "bbox": box} for i in range(n)]
    return {"event_id": f"e-{cam}-{ts}", "camera_id": cam, "frame_ts": ts, "seq": ts,
            "model": "motion", "objects": objs, "evidence_uri": None}  # fmt: skip


def test_detections_columns_are_typed_and_nested_objects_stay_lists() -> None:
    s = lake_schema(schema("Detections"))
    assert s.names == ["_partition", "_offset", "_kafka_ts", "_key", "event_id", "camera_id",
                       "frame_ts", "seq", "model", "objects", "evidence_uri"]  # fmt: skip
    assert s.field("frame_ts").type == pa.timestamp("us", tz="UTC")
    assert s.field("objects").type.value_type.field("bbox").type.field("x1").type == pa.float64()


def test_nested_records_flatten_and_many_type_unions_become_json() -> None:
    s = lake_schema(schema("SensorEvent"))
    assert {"anchor_x", "anchor_y", "bbox_x1", "bbox_y2"} <= set(s.names)
    cam = lake_schema(schema("CameraConfig"))
    assert cam.field("detector_options").type == pa.string()
    assert cam.field("detector_kind").type == pa.string()
    assert lake_schema(None).names[-1] == "_value"


def test_rows_sort_by_camera_then_time_and_round_trip_exactly() -> None:
    data = {
        (0, 5): detection("cam-b", 100, 1),
        (1, 3): detection("cam-a", 300, 2),
        (1, 4): detection("cam-a", 200, 0),
    }
    messages = [Message(p, o, 1_714_557_600_000 + o, b"k", b"") for (p, o) in data]
    table = to_table(messages, schema("Detections"), lambda m: data[(m.partition, m.offset)])
    back = pq.read_table(io.BytesIO(to_parquet(table)))
    assert back.num_rows == 3
    assert back.column("camera_id").to_pylist() == ["cam-a", "cam-a", "cam-b"]
    assert back.column("_offset").to_pylist() == [4, 3, 5]
    assert [len(x) for x in back.column("objects").to_pylist()] == [0, 2, 1]
    assert back.column("frame_ts").cast(pa.int64()).to_pylist() == [200, 300, 100]
    assert back.column("_kafka_ts").cast(pa.int64()).to_pylist()[0] == 1_714_557_600_004
    assert (
        pq.ParquetFile(io.BytesIO(to_parquet(table))).metadata.row_group(0).column(0).compression
        == "ZSTD"
    )


def test_raw_topic_keeps_the_bytes() -> None:
    table = to_table([Message(0, 0, 0, None, b"\x00\x01")], None, lambda m: None)
    assert table.column("_value").to_pylist() == [b"\x00\x01"]
    assert table.column("_key").to_pylist() == [None]


def test_file_key() -> None:
    assert (
        file_key("lake", "vidsight.alerts", "2024-05-01", 0)
        == "lake/vidsight.alerts/dt=2024-05-01/0.parquet"
    )
