"""``MongoSink``: per-frame detection documents and configuration documents with history.

Collections of the ``vidsight`` database:

- ``detections``: one document per analysed frame, ``_id`` = the event id, with its objects
  and the distinct labels on it (index on camera + time, and on label + time);
- ``configs``: per camera or sensor one *current* document (``_id`` ``camera:<id>`` or
  ``sensor:<id>``; a tombstone marks it ``deleted``) and one *history* document per published
  version (``_id`` ``<kind>:<id>@<topic id>:<partition>:<offset>``), so the full history stays
  queryable;
- ``topic_incarnations``: when this projection first saw each incarnation of a config topic.

Detections are written with an unordered ``insert_many`` (the fast path, about four times
faster than upserts on the local server); documents whose ``_id`` already exists, because of
a redelivery, are then replaced one by one, so the result is the same as an upsert of all.

Config offsets are comparable only within one incarnation of a topic (sinks/incarnation.py):
a topic made anew, or the local broker started over, numbers from 0 again. So a version is
``(incarnation rank, topic id, offset)``, stored as the sortable string ``order``, and a
current document is replaced only by a version not older (a filter on ``order``; documents of
before this scheme have none and count as oldest). The rank of an incarnation is the time
this projection first saw its topic id, kept in ``topic_incarnations`` (the first writer's
time wins). That order is the topics' own: a topic id exists only from its topic's creation
on and the old incarnation is gone by then, so a later incarnation is always first seen later.
Record timestamps would not do: producers set them (clocks differ between publishers), and
the local stack copies the configuration topics into each new broker with their old
timestamps. The topic is the source of truth, so whatever the live incarnation says wins,
also when it replays older contents (the current documents then follow the replay).

History documents are inserted, never replaced: a duplicate ``_id`` is a redelivery only when
the stored document is byte for byte the one this message makes; anything else is a conflict
(``HistoryConflictError``, the record goes to the dead letters) and never silently kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import bson
import pymongo
from bson.codec_options import CodecOptions
from bson.errors import BSONError
from bson.raw_bson import RawBSONDocument
from pymongo import ReplaceOne, ReturnDocument
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    OperationFailure,
    PyMongoError,
)

from schemas import catalog
from schemas.records import (
    AvroRecord,
    CameraConfig,
    Detections,
    SensorConfig,
    from_micros,
    now_micros,
)
from sinks.base import Sink
from sinks.batching import Batch, SourceMessage
from sinks.errors import BatchDataError, RecordDataError, StoreUnavailableError
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)

DETECTIONS = "detections"
CONFIGS = "configs"
INCARNATIONS = "topic_incarnations"
_NO_TOPIC_ID = "0" * 32  # UNKNOWN's place in an order key
_CURRENT_TRIES = 3
_DUPLICATE_KEY = 11000
# Server codes that mean "this document", not "this server": bad values, too large, invalid.
_DATA_CODES = frozenset({2, 14, 17, 52, 53, 55, 56, 57, 10334, 17419, 15974})

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConfigDocs:
    """The history document of one config message and the current document it makes."""

    entity: str  # "camera:<id>" / "sensor:<id>"
    version: int  # source offset: the order within one incarnation of the topic
    history: Document
    current: Document

    def ordered(self, key: str) -> ConfigDocs:
        """The documents with the current one's ``order`` key set (see ``order_key``)."""
        return replace(self, current={**self.current, "order": key})


class HistoryConflictError(BatchDataError):
    """A history document of the same topic id, partition and offset holds another message."""


MongoValue = Document | ConfigDocs


# ---- pure mapping ------------------------------------------------------------------------------


def detection_doc(d: Detections, message: SourceMessage) -> Document:
    """The document of one analysed frame."""
    objects = [
        {
            "track_id": o.track_id,
            "label": o.label,
            "score": o.score,
            "bbox": {"x1": o.bbox.x1, "y1": o.bbox.y1, "x2": o.bbox.x2, "y2": o.bbox.y2},
        }
        for o in d.objects
    ]
    return {
        "_id": d.event_id,
        "camera_id": d.camera_id,
        "frame_ts": from_micros(d.frame_ts),
        "frame_ts_us": d.frame_ts,
        "seq": d.seq,
        "model": d.model,
        "object_count": len(objects),
        "labels": sorted({o.label for o in d.objects}),
        "objects": objects,
        "evidence_uri": d.evidence_uri,
        "source": {"partition": message.partition, "offset": message.offset},
    }


def order_key(rank_us: int, topic_id: str, offset: int) -> str:
    """The version of a config message as a string that sorts as (incarnation, offset).

    ``rank_us`` is when the projection first saw the incarnation; the topic id only breaks
    ties between incarnations first seen in the same microsecond.
    """
    return f"{rank_us:020d}-{topic_id or _NO_TOPIC_ID}-{offset:020d}"


def config_docs(
    message: SourceMessage, record: AvroRecord | None, *, topic_id: str = ""
) -> ConfigDocs:
    """History and current documents of one config message (None record: a tombstone).

    ``topic_id`` is the incarnation of the message's topic: it is part of the history id,
    since offsets repeat across incarnations.
    """
    kind = "camera" if message.topic == catalog.CONFIG_CAMERAS else "sensor"
    if record is None:
        if not message.key:
            raise RecordDataError(f"a tombstone on {message.topic} without a key")
        try:
            entity_id = message.key.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordDataError(f"tombstone key {message.key!r} is not UTF-8") from None
        config: Document | None = None
        updated = None
    elif isinstance(record, CameraConfig | SensorConfig):
        entity_id = record.camera_id if isinstance(record, CameraConfig) else record.sensor_id
        config = _plain(record.to_avro())
        updated = from_micros(record.updated_ts)
    else:
        raise RecordDataError(f"{type(record).__name__} is not a configuration record")
    entity = f"{kind}:{entity_id}"
    common = {
        "kind": kind,
        "id": entity_id,
        "deleted": config is None,
        "config": config,
        "updated_ts": updated,
        "source": {
            "topic_id": topic_id,
            "partition": message.partition,
            "offset": message.offset,
        },
    }
    history = {
        "_id": f"{entity}@{topic_id}:{message.partition}:{message.offset}",
        "current": False,
        "op": "delete" if config is None else "upsert",
        **common,
    }
    current = {"_id": entity, "current": True, "version": message.offset, **common}
    return ConfigDocs(entity, message.offset, history, current)


def _plain(value: Any) -> Any:
    # Enums are str subclasses and tuples become lists anyway; this keeps the documents
    # free of Python-only types so they compare equal after a round trip.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def history_conflicts(ours: Mapping[str, bytes], stored: Mapping[str, bytes]) -> list[str]:
    """Ids whose stored history document (raw BSON) is not the one we would write.

    An id missing from ``stored`` is a conflict too: it was reported as a duplicate.
    """
    return [i for i, raw in ours.items() if stored.get(i) != raw]


def latest_current(docs: Sequence[ConfigDocs]) -> list[ConfigDocs]:
    """The newest config message per entity, in first-seen order (one incarnation)."""
    latest: dict[str, ConfigDocs] = {}
    for d in docs:
        if d.entity not in latest or latest[d.entity].version <= d.version:
            latest[d.entity] = d
    return list(latest.values())


# ---- the sink ----------------------------------------------------------------------------------


class MongoSink(Sink[MongoValue]):
    """Projects detections and configuration into MongoDB documents."""

    name = "mongo"
    topics = (catalog.DETECTIONS, catalog.CONFIG_CAMERAS, catalog.CONFIG_SENSORS)

    def __init__(self, settings: SinkSettings) -> None:
        super().__init__(settings)
        self._client: pymongo.MongoClient[Document] | None = None
        self._ranks: dict[tuple[str, str], int] = {}

    def prepare(self, message: SourceMessage, record: AvroRecord | None) -> MongoValue:
        """The document(s) of one record."""
        if message.topic == catalog.DETECTIONS:
            if not isinstance(record, Detections):
                raise RecordDataError(f"expected Detections on {message.topic}")
            return detection_doc(record, message)
        return config_docs(message, record, topic_id=self.incarnation_of(message.topic))

    def _db(self) -> Any:
        if self._client is None:
            timeout_ms = int(self.settings.store_timeout_s * 1000)
            self._client = pymongo.MongoClient(
                self.settings.mongo_uri.get_secret_value(),
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                socketTimeoutMS=timeout_ms * 2,
                appname="vidsight-sink-mongo",
            )
        return self._client[self.settings.mongo_database]

    def open(self) -> None:
        """Create the indexes (idempotent)."""
        try:
            db = self._db()
            db[DETECTIONS].create_index(
                [("camera_id", pymongo.ASCENDING), ("frame_ts", pymongo.DESCENDING)],
                name="camera_time",
            )
            db[DETECTIONS].create_index(
                [("labels", pymongo.ASCENDING), ("frame_ts", pymongo.DESCENDING)],
                name="label_time",
            )
            db[CONFIGS].create_index(
                [("kind", pymongo.ASCENDING), ("id", pymongo.ASCENDING), ("current", 1)],
                name="entity",
            )
        except PyMongoError as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def drop(self) -> None:
        """Drop both collections."""
        try:
            db = self._db()
            db[DETECTIONS].drop()
            db[CONFIGS].drop()
            db[INCARNATIONS].drop()
            self._ranks.clear()
        except PyMongoError as exc:
            raise self._unavailable(exc) from exc

    def write(self, batch: Batch[MongoValue]) -> int:
        """Write one partition's documents idempotently."""
        try:
            if batch.topic == catalog.DETECTIONS:
                docs = [i.value for i in batch.items if isinstance(i.value, dict)]
                return self._insert_or_replace(self._db()[DETECTIONS], docs)
            configs = [i.value for i in batch.items if isinstance(i.value, ConfigDocs)]
            return self._write_configs(batch.topic, configs)
        except (DocumentTooLarge, BSONError) as exc:
            raise BatchDataError(f"mongo cannot store a document: {exc}") from exc
        except BulkWriteError as exc:
            raise self._classify(exc) from exc
        except ConnectionFailure as exc:
            raise self._unavailable(exc) from exc
        except OperationFailure as exc:
            if exc.code in _DATA_CODES:
                raise BatchDataError(f"mongo rejected a document: {exc}") from exc
            raise self._unavailable(exc) from exc
        except PyMongoError as exc:
            raise self._unavailable(exc) from exc

    def _insert_or_replace(self, coll: Any, docs: list[Document]) -> int:
        if not docs:
            return 0
        try:
            coll.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors: list[Mapping[str, Any]] = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            again = [docs[e["index"]] for e in errors]
            coll.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in again])
        return len(docs)

    def _write_configs(self, topic: str, configs: list[ConfigDocs]) -> int:
        if not configs:
            return 0
        coll = self._db()[CONFIGS]
        self._insert_history(coll, [c.history for c in configs])
        topic_id = self.incarnation_of(topic)
        rank = self._rank(topic, topic_id)
        latest = [c.ordered(order_key(rank, topic_id, c.version)) for c in latest_current(configs)]
        self._replace_current(coll, latest)
        return len(configs) + len(latest)

    def _insert_history(self, coll: Any, docs: list[Document]) -> None:
        try:
            coll.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors: list[Mapping[str, Any]] = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            ours = {docs[e["index"]]["_id"]: bson.encode(docs[e["index"]]) for e in errors}
            raw = coll.with_options(codec_options=CodecOptions(document_class=RawBSONDocument))
            stored = {d["_id"]: d.raw for d in raw.find({"_id": {"$in": list(ours)}})}
            conflicts = history_conflicts(ours, stored)
            if conflicts:
                raise HistoryConflictError(
                    f"mongo {CONFIGS}: history document {conflicts[0]} already holds another "
                    f"message at that topic id, partition and offset ({len(conflicts)} such)"
                ) from exc

    def _replace_current(self, coll: Any, docs: list[ConfigDocs]) -> None:
        pending = docs
        for _ in range(_CURRENT_TRIES):
            ops: list[ReplaceOne[Document]] = [
                ReplaceOne(_not_newer(c.entity, c.current["order"]), c.current, upsert=True)
                for c in pending
            ]
            try:
                coll.bulk_write(ops, ordered=False)
                return
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                    raise
                # The filter missed an existing document: a newer version holds it (the
                # intended outcome), unless it vanished or changed meanwhile (then try again).
                lost = [pending[e["index"]] for e in errors]
                held = {
                    d["_id"]: d.get("order")
                    for d in coll.find({"_id": {"$in": [c.entity for c in lost]}}, {"order": 1})
                }
                pending = [c for c in lost if not _newer_or_same(held.get(c.entity), c)]
                if not pending:
                    return
        raise StoreUnavailableError(
            "mongo",
            f"current document {pending[0].entity} neither took version "
            f"{pending[0].current['order']} nor holds a newer one",
        )

    def _rank(self, topic: str, topic_id: str) -> int:
        """When this projection first saw the incarnation (stored; the first writer wins)."""
        rank = self._ranks.get((topic, topic_id))
        if rank is None:
            now = now_micros()
            doc = self._db()[INCARNATIONS].find_one_and_update(
                {"_id": f"{topic}@{topic_id}"},
                {
                    "$setOnInsert": {
                        "topic": topic,
                        "topic_id": topic_id,
                        "first_seen_us": now,
                        "first_seen": from_micros(now),
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            rank = self._ranks[(topic, topic_id)] = int(doc["first_seen_us"])
        return rank

    def _classify(self, exc: BulkWriteError) -> Exception:
        errors = exc.details.get("writeErrors", [])
        if errors and all(e.get("code") in _DATA_CODES for e in errors):
            return BatchDataError(f"mongo rejected documents: {errors[0].get('errmsg')}")
        return self._unavailable(exc)

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError("mongo", f"{type(exc).__name__}: {exc}")


def _not_newer(entity: str, order: str) -> Document:
    """Filter of a current document that ``order`` may replace (documents written before
    versions had an ``order`` count as oldest)."""
    return {"_id": entity, "$or": [{"order": {"$lte": order}}, {"order": {"$exists": False}}]}


def _newer_or_same(held: object, docs: ConfigDocs) -> bool:
    return isinstance(held, str) and held >= docs.current["order"]
