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
sink holds every topic as Avro files as well), never deleted. Some logs are carried over
(``carried_topics``): the schema registry's, whose records are its whole state (the schemas
and the ids every Confluent-framed value and archive object refers to), and the declared
configuration and feedback; they are read from the old storage and written to the new broker
before the registry starts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from infra.stack.errors import StackError
from infra.stack.record_batches import Record, read_partition
from schemas import catalog

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
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    (target / ATTIC_README).write_text(_README.format(size=size))
    log.warning(
        "the embedded broker cannot resume its topics after a restart (Tansu S3 engine); "
        "it starts empty, its earlier storage (%.1f MiB) is kept in %s",
        size / 2**20,
        target,
    )
    return target


ATTIC_README = "README.txt"
_README = """\
The storage of a local Tansu broker that was stopped ({size} bytes), moved here when the
broker started again: Tansu 0.6 cannot resume its partitions after a restart, so the new
broker starts empty (see infra/stack/broker_storage.py in vidsight).

Carried into the new broker already: the schema registry's log, the camera and sensor
configuration topics and operator feedback. The event topics here are also in the stores and,
as Avro files, in the S3 archive (bucket vidsight, prefix archive/). Each file under
clusters/*/topics/<topic>/partitions/<n>/records/ is one Kafka record batch (format v2),
named by its first offset; infra/stack/record_batches.py reads them.

Nothing reads this folder again: delete it when you no longer need it.
"""


Carried = dict[str, dict[int, list[Record]]]
"""Topic -> partition -> records, in offset order."""


def carried_topics(registry_topic: str) -> tuple[str, ...]:
    """The logs a restarted broker gets back: the registry's, and the topics that hold what
    people declared (cameras, sensors, feedback), which nothing else can rebuild. The event
    topics are not carried: the stores and the S3 archive hold them, and numbered anew they
    would be projected a second time."""
    return (registry_topic, catalog.CONFIG_CAMERAS, catalog.CONFIG_SENSORS, catalog.FEEDBACK)


def carried_logs(bucket_dir: Path, registry_topic: str) -> Carried:
    """The carried topics' records in the old storage (the registry's without its
    end-of-log markers)."""
    from schemas.registry.events import LogMarker, decode

    out: Carried = {}
    for topic in carried_topics(registry_topic):
        for records in sorted(bucket_dir.glob(f"clusters/*/topics/{topic}/partitions/*/records")):
            kept = [
                r
                for r in read_partition(records)
                if topic != registry_topic
                or (r.value is not None and not isinstance(decode(r.value), LogMarker))
            ]
            if kept:
                out.setdefault(topic, {})[int(records.parent.name)] = kept
    return out


def write_carried(kafka_config: dict[str, Any], logs: Carried, registry_topic: str) -> int:
    """Write the carried records to their (new, empty) topics, each to the partition it came
    from, with its timestamp and headers, one acknowledged record at a time as the registry
    itself writes; returns how many."""
    from confluent_kafka import Producer

    from schemas.registry.kafka_log import TOPIC_CONFIG
    from schemas.topics import create_topics

    if not logs:
        return 0
    registry = catalog.TopicSpec(
        registry_topic, None, 1, TOPIC_CONFIG, compacted=False, doc="schema registry log"
    )
    create_topics(
        kafka_config,
        [registry if t == registry_topic else catalog.topic(t) for t in logs],
    )
    producer = Producer({**kafka_config, "acks": "all", "linger.ms": 0})
    failed: list[str] = []
    written = 0
    for topic, partitions in logs.items():
        for partition, records in sorted(partitions.items()):
            for r in records:
                producer.produce(
                    topic,
                    key=r.key,
                    value=r.value,
                    partition=partition,
                    timestamp=r.timestamp_ms,
                    headers=list(r.headers) or None,
                    on_delivery=lambda err, _m: failed.append(str(err)) if err else None,
                )
                if producer.flush(30) or failed:
                    raise StackError(
                        f"carrying {topic}[{partition}] into the new broker failed after "
                        f"{written} record(s): {failed[0] if failed else 'not acknowledged'}"
                    )
                written += 1
            log.info("carried topic=%s partition=%d records=%d", topic, partition, len(records))
    return written
