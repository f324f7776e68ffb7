"""Sink write throughput against the real stores, with raw baselines in the same run.

Per store the same typed records (already decoded: bench/bench_serde.py measures decoding) are
written three ways, each into a fresh table/collection/prefix with the same indexes, in
batches of ``--batch`` records of one topic-partition:

- sink: ``Sink.add`` (record -> row mapping) + ``Sink.flush`` (the batch write exactly as the
  running sink does it: idempotent upserts, dedup tokens, views, merge-or-overwrite);
- raw: the plain way to put the same records into the store: map them inline, then
  PostgreSQL binary COPY, ClickHouse row insert through the same HTTP endpoint into a plain
  MergeTree (no views), MongoDB unordered insert_many, S3 fastavro container + put_object;
- raw write only: the same store call with the rows/documents/bytes prepared beforehand
  (an upper bound no writer reaches, shown for transparency).

ClickHouse gets a second line: the raw insert into the sink's own tables, whose rollup views
(hourly counts) run for any insert, so the ratio there is the sink's own overhead alone.

Rows are what the store receives: alert rows, ClickHouse object rows, Mongo documents,
archived messages. Each figure is the median of ``--reps`` timed runs after a warm-up run.
Needs a running stack (``vidsight up``, or ``--data-dir`` of one).

Usage: ``python bench/bench_sinks.py [--data-dir .vidsight] [--records 20000] [--reps 3]``.
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import fastavro

# the sample scenes are test-support code: reachable from the repository root
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import catalog
from schemas.records import Alert, AvroRecord, Detections, alert_id
from schemas.serde import InMemorySchemaResolver, Serde
from sinks.base import Sink
from sinks.batching import Item, SourceMessage, TopicPartition
from sinks.settings import SinkSettings
from tests.support import samples
from vidsight.settings import load


@dataclass
class Figure:
    store: str
    what: str
    rows: int
    sink_s: float
    raw_s: float
    write_only_s: float

    def line(self) -> str:
        sink, raw, wo = (self.rows / s for s in (self.sink_s, self.raw_s, self.write_only_s))
        return (
            f"{self.store:<11} {self.what:<30} {self.rows:>7} {sink:>11,.0f} {raw:>11,.0f} "
            f"{sink / raw:>6.2f}x {wo:>12,.0f} {sink / wo:>6.2f}x"
        )


HEADER = (
    f"{'store':<11} {'what':<30} {'rows':>7} {'sink rows/s':>11} {'raw rows/s':>11} "
    f"{'ratio':>7} {'write-only/s':>12} {'ratio':>7}"
)


def chunks(seq: Sequence[Any], n: int) -> list[Sequence[Any]]:
    return [seq[i : i + n] for i in range(0, len(seq), n)]


def messages(topic: str, records: Sequence[AvroRecord]) -> list[SourceMessage]:
    codec = Serde(InMemorySchemaResolver()).topic(topic)
    ts = int(time.time() * 1000)
    return [
        SourceMessage(topic, 0, i, samples.message_key(topic, r), codec.encode(r), ts)
        for i, r in enumerate(records)
    ]


def run_sink(
    sink: Sink[Any], msgs: Sequence[SourceMessage], recs: Sequence[Any], batch: int
) -> float:
    """Seconds to add and flush every message as the runner does (one partition)."""
    tp = TopicPartition(msgs[0].topic, msgs[0].partition)
    started = time.perf_counter()
    for part_m, part_r in zip(chunks(msgs, batch), chunks(recs, batch), strict=True):
        now = time.monotonic()
        for m, r in zip(part_m, part_r, strict=True):
            sink.add(m, r, now)
        result = sink.flush(tp)
        if result.outage is not None or result.dead:
            raise SystemExit(f"{sink.name}: write failed: {result.outage or result.dead[0][1]}")
    return time.perf_counter() - started


def settle() -> None:
    """Keep the collector off the inputs: they are large and live for the whole run, which a
    sink holding one batch never sees; without this, full collections dominate the figures."""
    gc.collect()
    gc.freeze()


Variant = tuple[Callable[[], object], Callable[[], object]]  # (untimed setup, timed work)


def compare(reps: int, variants: Sequence[Variant]) -> list[float]:
    """Median seconds of each variant's work over ``reps`` rounds, after a warm-up round.

    The variants take turns within each round, so load from anything else on the machine
    falls on all of them alike instead of on whichever ran during a busy spell.
    """
    settle()
    times: list[list[float]] = [[] for _ in variants]
    for i in range(reps + 1):
        for (setup, work), out in zip(variants, times, strict=True):
            setup()
            started = time.perf_counter()
            work()
            if i:
                out.append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def detections(n: int) -> list[Detections]:
    return samples.scene(max(1, n // 2000), 2000, prefix="bench-").detections[:n]


# ---- PostgreSQL ------------------------------------------------------------------------------


def unique_alerts(n: int) -> list[Alert]:
    base = samples.scene(1, 25, prefix="bench-").alerts[0]
    out = []
    for i in range(n):
        cam = f"bench-cam-{i % 50:03d}"
        ts = base.start_ts + i * 1000
        out.append(
            replace(
                base, alert_id=alert_id(cam, "s", ts), camera_id=cam, start_ts=ts, updated_ts=ts
            )
        )
    return out


def bench_postgres(settings: SinkSettings, n: int, batch: int, reps: int) -> Figure:
    import psycopg

    from sinks.postgres import PostgresSink
    from sinks.postgres import rows as r

    records = unique_alerts(n)
    msgs = messages(catalog.ALERTS, records)
    schema = "bench_sinks"
    base = settings.postgres_dsn.get_secret_value()
    dsn = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    bench = settings.model_copy(update={"postgres_dsn": type(settings.postgres_dsn)(dsn)})
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")
    sink = PostgresSink(bench)

    def fresh_sink() -> None:
        sink.drop()
        sink.open()

    cols = ", ".join(r.ALERTS.names)
    mapped = [r.alert_row(a).row for a in records]
    with psycopg.connect(dsn) as conn:

        def fresh_raw() -> None:
            conn.execute("DROP TABLE IF EXISTS raw_alerts")
            conn.execute("CREATE TABLE raw_alerts (LIKE alerts INCLUDING ALL)")
            conn.commit()

        def copy(rows: Sequence[tuple[Any, ...]]) -> None:
            copy_sql = f"COPY raw_alerts ({cols}) FROM STDIN (FORMAT BINARY)"
            with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as cp:
                cp.set_types(list(r.ALERTS.types))
                for row in rows:
                    cp.write_row(row)

        def raw() -> None:
            for part in chunks(records, batch):
                copy([r.alert_row(a).row for a in part])

        def write_only() -> None:
            for part in chunks(mapped, batch):
                copy(part)

        sink_s, raw_s, wo_s = compare(
            reps,
            [
                (fresh_sink, lambda: run_sink(sink, msgs, records, batch)),
                (fresh_raw, raw),
                (fresh_raw, write_only),
            ],
        )
    sink.close()
    return Figure("postgres", "alerts (binary COPY)", n, sink_s, raw_s, wo_s)


# ---- ClickHouse -----------------------------------------------------------------------------


def bench_clickhouse(settings: SinkSettings, n: int, batch: int, reps: int) -> list[Figure]:
    from sinks.clickhouse import ClickHouseSink
    from sinks.clickhouse.columns import detection_columns
    from sinks.clickhouse.ddl import DETECTIONS
    from sinks.clickhouse.sink import client_for

    db = "vidsight_bench"
    bench = settings.model_copy(update={"clickhouse_database": db})
    records = detections(n)
    msgs = messages(catalog.DETECTIONS, records)
    sink = ClickHouseSink(bench)

    def fresh_sink() -> None:
        sink.drop()
        sink.open()
        sink.forget([TopicPartition(catalog.DETECTIONS, 0)])

    client = client_for(bench)
    pairs = list(zip(msgs, records, strict=True))
    prepared = [detection_columns([Item(m, r) for m, r in part]) for part in chunks(pairs, batch)]
    rows = sum(c for _, c in prepared)
    # The raw baseline writes into a copy of the table the migrations made, as a plain MergeTree.
    sink.open()
    created = str(client.command(f"SHOW CREATE TABLE {db}.detections"))
    ddl = created.replace("\\n", "\n").replace(f"{db}.detections", f"{db}.raw_detections")
    ddl = ddl.replace("ReplacingMergeTree", "MergeTree")

    def fresh_raw() -> None:
        client.command(f"DROP TABLE IF EXISTS {db}.raw_detections")
        client.command(ddl)

    def insert(data: Any, *, column_oriented: bool, table: str = "raw_detections") -> None:
        client.insert(
            table,
            data,
            column_names=DETECTIONS.names,
            database=db,
            column_type_names=DETECTIONS.types,
            column_oriented=column_oriented,
        )

    def raw(table: str = "raw_detections") -> None:
        for part in chunks(pairs, batch):
            data = [
                (
                    d.event_id,
                    i,
                    d.camera_id,
                    d.frame_ts,
                    d.seq,
                    d.model,
                    o.track_id,
                    o.label,
                    o.score,
                    o.bbox.x1,
                    o.bbox.y1,
                    o.bbox.x2,
                    o.bbox.y2,
                    d.evidence_uri,
                    m.partition,
                    m.offset,
                )
                for m, d in part
                for i, o in enumerate(d.objects)
            ]
            insert(data, column_oriented=False, table=table)

    def write_only() -> None:
        for cols, _ in prepared:
            insert(cols, column_oriented=True)

    sink_s, raw_s, wo_s, same_s = compare(
        reps,
        [
            (fresh_sink, lambda: run_sink(sink, msgs, records, batch)),
            (fresh_raw, raw),
            (fresh_raw, write_only),
            # The same raw insert into the sink's own tables: the rollup views run for it too.
            (fresh_sink, lambda: raw("detections")),
        ],
    )
    client.close()
    sink.close()
    return [
        Figure("clickhouse", "detections (object rows)", rows, sink_s, raw_s, wo_s),
        Figure("clickhouse", "  raw into the sink's tables", rows, sink_s, same_s, wo_s),
    ]


# ---- MongoDB --------------------------------------------------------------------------------


def bench_mongo(settings: SinkSettings, n: int, batch: int, reps: int) -> Figure:
    import pymongo

    from sinks.mongo import MongoSink, detection_doc

    bench = settings.model_copy(update={"mongo_database": "vidsight_bench"})
    records = detections(n)
    msgs = messages(catalog.DETECTIONS, records)
    sink = MongoSink(bench)

    def fresh_sink() -> None:
        sink.drop()
        sink.open()

    pairs = list(zip(msgs, records, strict=True))
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        settings.mongo_uri.get_secret_value()
    )
    coll = client["vidsight_bench"]["raw_detections"]
    docs = [detection_doc(r, m) for m, r in pairs]

    def fresh_raw() -> None:
        coll.drop()
        coll.create_index([("camera_id", 1), ("frame_ts", -1)], name="camera_time")
        coll.create_index([("labels", 1), ("frame_ts", -1)], name="label_time")

    def raw(table: str = "raw_detections") -> None:
        for part in chunks(pairs, batch):
            coll.insert_many([detection_doc(r, m) for m, r in part], ordered=False)

    def write_only() -> None:
        for part in chunks(docs, batch):
            # insert_many sets _id in place; copies keep every run inserting the same documents
            coll.insert_many([dict(d) for d in part], ordered=False)

    sink_s, raw_s, wo_s = compare(
        reps,
        [
            (fresh_sink, lambda: run_sink(sink, msgs, records, batch)),
            (fresh_raw, raw),
            (fresh_raw, write_only),
        ],
    )
    client.close()
    sink.close()
    return Figure("mongo", "detections (documents)", n, sink_s, raw_s, wo_s)


# ---- S3 ---------------------------------------------------------------------------------------


def bench_s3(settings: SinkSettings, n: int, reps: int) -> Figure:
    from sinks.s3archive import ARCHIVE_SCHEMA, S3ArchiveSink, encode, plan_objects, to_datum

    prefix = f"bench-archive-{uuid.uuid4().hex[:6]}"
    bench = settings.model_copy(update={"archive_prefix": prefix})
    msgs = messages(catalog.DETECTIONS, detections(n))
    sink = S3ArchiveSink(bench)
    sink.open()
    block = bench.archive_block_offsets
    codec = bench.archive_codec
    s3 = sink._s3()
    schema = fastavro.parse_schema(ARCHIVE_SCHEMA)

    def raw() -> None:
        for i, part in enumerate(chunks(msgs, block)):
            out = io.BytesIO()
            fastavro.writer(out, schema, [to_datum(m) for m in part], codec=codec)
            s3.put_object(Bucket=bench.s3_bucket, Key=f"{prefix}-raw/{i}.avro", Body=out.getvalue())

    bodies = []
    for part in chunks(msgs, block):
        for obj in plan_objects(prefix, catalog.DETECTIONS, 0, part, block=block):
            body = encode(
                obj.key,
                obj.messages,
                topic=catalog.DETECTIONS,
                partition=0,
                block_start=obj.block_start,
                block=block,
                codec=codec,
            )
            bodies.append((obj.key.replace(prefix, prefix + "-wo", 1), body))

    def write_only() -> None:
        for key, body in bodies:
            s3.put_object(Bucket=bench.s3_bucket, Key=key, Body=body)

    def nothing() -> None:
        pass

    sink_s, raw_s, wo_s = compare(
        reps,
        [
            (nothing, lambda: run_sink(sink, msgs, msgs, block)),
            (nothing, raw),
            (nothing, write_only),
        ],
    )
    sink.close()
    return Figure("s3", f"archive ({codec} Avro OCF)", n, sink_s, raw_s, wo_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--records", type=int, default=20_000, help="alerts / detections")
    parser.add_argument("--mongo-records", type=int, default=10_000)
    parser.add_argument("--s3-records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=["postgres", "clickhouse", "mongo", "s3"])
    args = parser.parse_args()
    settings = load(SinkSettings, data_dir=args.data_dir)
    figures = []
    if "postgres" in args.only:
        figures.append(bench_postgres(settings, args.records, args.batch, args.reps))
    if "clickhouse" in args.only:
        figures.extend(bench_clickhouse(settings, args.records, args.batch, args.reps))
    if "mongo" in args.only:
        figures.append(bench_mongo(settings, args.mongo_records, args.batch, args.reps))
    if "s3" in args.only:
        figures.append(bench_s3(settings, args.s3_records, args.reps))
    print(HEADER)
    for f in figures:
        print(f.line())


if __name__ == "__main__":
    main()
