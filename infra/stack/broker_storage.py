"""What happens to the embedded broker's storage when the broker starts again.

Tansu 0.6's S3 storage engine does not resume a partition where it ended: after a restart it
assigns offsets from 0 again and overwrites the batch objects already there, while the
consumer-group offsets it stored survive (verified: 10 records at offsets 0-9 and
``watermark.json`` high=10 before a restart; the next record after it got offset 0; and the
changelog restore, which reads from the beginning, found nothing). Left as it is, that storage
makes consumers skip new records (their committed offsets lie past the new ends) and mixes old
and new records in one log.

So a broker that starts over old storage starts empty instead, and says so: the old storage is
moved aside, byte for byte, under ``broker-attic/<UTC time>/`` in the data dir (the S3 archive
sink holds every topic as Avro files as well), never deleted. One log is carried over: the
schema registry's, whose records are its whole state (the schemas and the ids that every
Confluent-framed value and archive object refers to); it is read from the old storage and
written to the new broker before the registry starts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from infra.stack.errors import StackError
from infra.stack.record_batches import read_partition

log = logging.getLogger(__name__)

ATTIC = "broker-attic"


def has_data(bucket_dir: Path) -> bool:
    """True when the broker's bucket holds anything from an earlier run."""
    return bucket_dir.is_dir() and any(bucket_dir.iterdir())


def retire(bucket_dir: Path, data_dir: Path, *, now: float | None = None) -> Path | None:
    """Move everything in ``bucket_dir`` to a new folder under the attic; returns that folder
    (None when there was nothing to move). The bucket itself stays, empty."""
    if not has_data(bucket_dir):
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = data_dir / ATTIC / stamp
    n = 1
    while target.exists():
        n += 1
        target = data_dir / ATTIC / f"{stamp}-{n}"
    target.mkdir(parents=True)
    for entry in sorted(bucket_dir.iterdir()):
        entry.rename(target / entry.name)
    log.warning(
        "the embedded broker cannot resume its topics after a restart (Tansu S3 engine); "
        "it starts empty, its earlier storage is kept in %s",
        target,
    )
    return target


def registry_log(bucket_dir: Path, topic: str) -> list[tuple[bytes | None, bytes]]:
    """The schema registry's records (key, value) in the old storage, in order, without its
    end-of-log markers: the registry's state, with every schema's id, to carry over."""
    from schemas.registry.events import LogMarker, decode

    out: list[tuple[bytes | None, bytes]] = []
    for records in sorted(bucket_dir.glob(f"clusters/*/topics/{topic}/partitions/*/records")):
        for _, key, value in read_partition(records):
            if value is None or isinstance(decode(value), LogMarker):
                continue
            out.append((key, value))
    return out


def write_registry_log(
    kafka_config: dict[str, Any], topic: str, records: list[tuple[bytes | None, bytes]]
) -> None:
    """Write the carried records to a new, empty registry topic (before the registry starts),
    one acknowledged record at a time, as the registry itself writes them."""
    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    from schemas.registry.kafka_log import TOPIC_CONFIG

    admin = AdminClient(kafka_config)
    new = NewTopic(topic, num_partitions=1, replication_factor=-1, config=TOPIC_CONFIG)
    try:
        admin.create_topics([new], request_timeout=30)[topic].result(timeout=30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise StackError(f"cannot create {topic} to carry the registry over: {exc}") from exc
    producer = Producer({**kafka_config, "acks": "all", "linger.ms": 0})
    failed: list[str] = []
    for key, value in records:
        producer.produce(
            topic,
            key=key,
            value=value,
            partition=0,
            on_delivery=lambda err, _m: failed.append(str(err)) if err else None,
        )
        if producer.flush(30) or failed:
            raise StackError(
                f"carrying the schema registry's log into {topic} failed after "
                f"{len(records)} record(s): {failed[0] if failed else 'not acknowledged'}"
            )
    log.info("carried records=%d of topic=%s into the new broker", len(records), topic)
