"""lake_parquet throughput: archive Avro objects -> typed, sorted, zstd Parquet, vs bare pyarrow.

Figures, all measured in this run on the same synthetic detections (Confluent-framed Avro
values in archive container files, as sinks/s3archive.py writes them; no S3 or registry: the
values are decoded with the schema directly, as Serde does once it knows the writer id):
- lake path: ``etl.lake.parquet`` from the archive objects' bytes to Parquet bytes (read the
  containers, decode the values, typed columns, sort by camera and time, zstd);
- bare pyarrow write: the same rows, already decoded to Python dicts, written with
  ``pa.Table.from_pylist`` + ``pq.write_table(compression="zstd")`` (no decode, no sort);
- decode + bare write: the same bytes decoded with fastavro, then the bare write: the
  least work that turns the archive into Parquet at all.

Usage: ``python bench/bench_lake.py [--rows 200000]``.
"""

from __future__ import annotations

import argparse
import io
import random
import struct
import time
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from etl.lake.parquet import Message, to_parquet, to_table
from schemas import catalog
from sinks.batching import SourceMessage
from sinks.s3archive import decode, encode

SCHEMA = dict(catalog.schema_dict("Detections"))


def _plain(node: Any) -> Any:
    """The schema without logical types: times as int micros, ids as strings (as Serde reads)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


PARSED = fastavro.parse_schema(_plain(SCHEMA))
HEADER = b"\x00" + struct.pack(">I", 1)
BLOCK = 10_000


def datum(rng: random.Random, i: int) -> dict[str, Any]:
    objs = []
    for t in range(rng.randint(1, 4)):
        x, y = rng.random() * 0.8, rng.random() * 0.8
        box = {"x1": x, "y1": y, "x2": x + 0.1, "y2": y + 0.2}
        objs.append({"track_id": t, "label": "person", "score": rng.random(), "bbox": box})
    return {"event_id": f"{i:032x}", "camera_id": f"cam-{rng.randrange(50):03d}",
            "frame_ts": 1_714_557_600_000_000 + i * 1000, "seq": i, "model": "motion",
            "objects": objs, "evidence_uri": None}  # fmt: skip


def framed(d: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    buf.write(HEADER)
    fastavro.schemaless_writer(buf, PARSED, d)
    return buf.getvalue()


def archive_objects(rows: int) -> list[bytes]:
    rng = random.Random(7)
    msgs = [
        SourceMessage(
            catalog.DETECTIONS, 0, i, b"cam", framed(datum(rng, i)), 1_714_557_600_000, ()
        )
        for i in range(rows)
    ]
    return [
        encode(
            f"k{s}",
            msgs[s : s + BLOCK],
            topic=catalog.DETECTIONS,
            partition=0,
            block_start=s,
            block=BLOCK,
            codec="deflate",
        )
        for s in range(0, rows, BLOCK)
    ]


def value_datum(value: bytes) -> dict[str, Any]:
    buf = io.BytesIO(value)
    buf.seek(5)
    out: dict[str, Any] = fastavro.schemaless_reader(buf, PARSED, None)  # type: ignore[assignment]
    return out


def lake_path(objects: list[bytes]) -> int:
    messages = []
    for data in objects:
        for d in fastavro.reader(io.BytesIO(data)):
            r: Any = d
            ts = r["timestamp"]
            ms = round(ts.timestamp() * 1000) if hasattr(ts, "timestamp") else ts
            messages.append(Message(r["partition"], r["offset"], ms, r["key"], r["value"]))
    table = to_table(messages, SCHEMA, lambda m: value_datum(m.value or b""))
    return len(to_parquet(table))


def bare_write(rows: list[dict[str, Any]]) -> int:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out, compression="zstd")
    return out.tell()


def decode_and_bare_write(objects: list[bytes]) -> int:
    rows = [
        value_datum(m.value or b"") for data in objects for m in decode(catalog.DETECTIONS, data)
    ]
    return bare_write(rows)


def best(fn: Any, arg: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    objects = archive_objects(args.rows)
    rows = [
        value_datum(m.value or b"") for data in objects for m in decode(catalog.DETECTIONS, data)
    ]
    lake = best(lake_path, objects)
    bare = best(bare_write, rows)
    both = best(decode_and_bare_write, objects)
    n = args.rows
    print(f"{'path':<34}{'seconds':>10}{'rows/s':>14}")
    for name, secs in (("lake path (etl.lake.parquet)", lake), ("bare pyarrow write", bare),
                       ("decode + bare pyarrow write", both)):  # fmt: skip
        print(f"{name:<34}{secs:>10.3f}{n / secs:>14,.0f}")
    print(f"ratio lake / bare pyarrow write:          {bare / lake:.2f}x (goal >= 0.7x)")
    print(f"ratio lake / decode + bare pyarrow write: {both / lake:.2f}x")


if __name__ == "__main__":
    main()
