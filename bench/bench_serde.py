"""Serde throughput: Detections records with 3 objects, encode and decode, records/s.

Rows, all measured in this run over the same records:
- raw fastavro: ``schemaless_writer``/``schemaless_reader`` with the wire schema the serde uses
  (logical types stripped), no framing: the baseline every ratio is against;
- raw fastavro + logical types: the same with the schema as registered, for reference;
- serde datum: ``TopicSerde.encode_datum``/``decode_datum`` (Confluent framing, plain dicts);
- serde record: ``encode``/``decode`` of typed ``Detections`` (adds ``to_avro``/``from_avro``);
- serde record batch: ``encode_many``/``decode_many``;
- serde record, generic mapping: the same with ``schemas.records.mapping`` doing the record
  conversions instead of Detections' hand-written ones (why Detections keeps them);
- confluent AvroSerializer/AvroDeserializer (dicts), only with ``--registry-url``.

Usage: ``python bench/bench_serde.py [--records 2000] [--reps 7] [--registry-url URL]``.
Without a registry the serde uses the in-memory resolver; after the first message it makes no
difference, since ids and schemas are cached.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas import catalog
from schemas.records import BBox, DetectedObject, Detections, detections_event_id
from schemas.records.mapping import mapping_for
from schemas.serde import InMemorySchemaResolver, RegistryResolver, SchemaResolver, Serde

Row = tuple[str, Callable[[], object], Callable[[], object]]  # name, encode all, decode all
BATCH = 100  # messages per encode_many/decode_many call, a typical consumer batch
LABELS = ("person", "car", "bicycle", "dog")


def make_records(n: int) -> list[Detections]:
    """n Detections of 3 objects each, varied so no encoding is a trivial repeat."""
    out = []
    t0 = 1_700_000_000_000_000
    for i in range(n):
        camera = f"cam-{i % 50:03d}"
        ts = t0 + i * 200_000
        objects = tuple(
            DetectedObject(
                track_id=i * 3 + k,
                label=LABELS[(i + k) % len(LABELS)],
                score=0.5 + ((i * 7 + k) % 50) / 100,
                bbox=BBox(0.1 + k * 0.2, 0.2, 0.25 + k * 0.2, 0.6 + (i % 10) / 40),
            )
            for k in range(3)
        )
        out.append(
            Detections(
                event_id=detections_event_id(camera, ts, i),
                camera_id=camera,
                frame_ts=ts,
                seq=i,
                model="onnx:yolo11n",
                objects=objects,
                evidence_uri=f"s3://vidsight/evidence/{camera}/2023/11/14/22/{ts}.jpg",
            )
        )
    return out


def _measure(rows: Sequence[Row], n: int, reps: int) -> list[tuple[str, float, float]]:
    """Median records/s of each row's encode and decode (each call handles n records).

    The rows run round-robin within each repetition, so load from other processes on the
    machine hits every row alike and the ratios stay meaningful.
    """
    for _, enc, dec in rows:  # warm-up: caches, registry lookups, allocator
        enc()
        dec()
    rates: list[tuple[list[float], list[float]]] = [([], []) for _ in rows]
    for _ in range(reps):
        for (_, enc, dec), (enc_rates, dec_rates) in zip(rows, rates, strict=True):
            for fn, out in ((enc, enc_rates), (dec, dec_rates)):
                gc.collect()  # every row starts from the same heap state
                start = time.perf_counter()
                fn()
                out.append(n / (time.perf_counter() - start))
    return [
        (name, statistics.median(e), statistics.median(d))
        for (name, _, _), (e, d) in zip(rows, rates, strict=True)
    ]


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _each(fn: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    """A loop applying fn to every item and dropping the results, like a consumer loop does.

    Keeping thousands of results alive would let the cyclic GC, not the codec, decide the
    figures (its cost grows with the number of live containers).
    """

    def loop() -> None:
        for item in items:
            fn(item)

    return loop


def _batches(fn: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    chunks = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    return _each(fn, chunks)


def run(n: int, reps: int, registry_url: str | None) -> list[tuple[str, float, float]]:
    records = make_records(n)
    datums = [r.to_avro() for r in records]
    wire = parse_schema(_strip(dict(catalog.schema_dict("Detections"))))
    logical = catalog.load_schema("Detections")

    def raw_writer(schema: Any) -> Callable[[Any], bytes]:
        def encode(datum: Any) -> bytes:
            buf = BytesIO()
            schemaless_writer(buf, schema, datum)
            return buf.getvalue()

        return encode

    def raw_reader(schema: Any) -> Callable[[bytes], Any]:
        return lambda data: schemaless_reader(BytesIO(data), schema, None)

    raw_bytes = [raw_writer(wire)(d) for d in datums]
    resolver: SchemaResolver = (
        RegistryResolver(registry_url) if registry_url else InMemorySchemaResolver()
    )
    codec = Serde(resolver).topic(catalog.DETECTIONS, Detections)
    framed = codec.encode_many(records)
    assert codec.decode_many(framed) == records
    assert [raw_reader(wire)(b) for b in raw_bytes] == [codec.decode_datum(b) for b in framed]
    generic = mapping_for(Detections)
    assert [generic.from_avro(codec.decode_datum(b)) for b in framed] == records

    rows: list[Row] = [
        ("raw fastavro", _each(raw_writer(wire), datums), _each(raw_reader(wire), raw_bytes)),
        (
            "raw fastavro + logical types",
            _each(raw_writer(logical), datums),
            _each(raw_reader(logical), raw_bytes),
        ),
        (
            "serde datum (framed dicts)",
            _each(codec.encode_datum, datums),
            _each(codec.decode_datum, framed),
        ),
        (
            "serde record (framed Detections)",
            _each(codec.encode, records),
            _each(codec.decode, framed),
        ),
        (
            f"serde record batch (*_many, {BATCH})",
            _batches(codec.encode_many, records),
            _batches(codec.decode_many, framed),
        ),
        (
            "serde record, generic mapping",
            _each(lambda r: codec.encode_datum(generic.to_avro(r)), records),
            _each(lambda b: generic.from_avro(codec.decode_datum(b)), framed),
        ),
    ]
    if registry_url:
        rows.append(_confluent_row(registry_url, datums))
    return _measure(rows, n, reps)


def _confluent_row(url: str, datums: Sequence[dict[str, Any]]) -> Row:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": url})
    text = catalog.schema_text("Detections")
    serializer = AvroSerializer(client, text, conf={"auto.register.schemas": True})
    deserializer = AvroDeserializer(client, text)
    ctx = SerializationContext(catalog.DETECTIONS, MessageField.VALUE)
    framed = [serializer(d, ctx) for d in datums]
    return (
        "confluent AvroSerializer/Deserializer",
        _each(lambda d: serializer(d, ctx), datums),
        _each(lambda b: deserializer(b, ctx), framed),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=2000, help="records per repetition")
    parser.add_argument("--reps", type=int, default=15, help="repetitions (median is reported)")
    parser.add_argument("--registry-url", help="also measure confluent's AvroSerializer")
    args = parser.parse_args(argv)
    results = run(args.records, args.reps, args.registry_url)
    base_enc, base_dec = results[0][1], results[0][2]
    print(f"Detections, 3 objects; {args.records} records x {args.reps} reps; median records/s")
    header = f"{'path':<40} {'encode/s':>10} {'x raw':>6} {'decode/s':>10} {'x raw':>6}"
    print(header)
    print("-" * len(header))
    for name, enc, dec in results:
        enc_ratio, dec_ratio = enc / base_enc, dec / base_dec
        print(f"{name:<40} {enc:>10,.0f} {enc_ratio:>6.2f} {dec:>10,.0f} {dec_ratio:>6.2f}")
    if not args.registry_url:
        print("(confluent AvroSerializer skipped: no --registry-url)")


if __name__ == "__main__":
    main()
