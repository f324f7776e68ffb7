"""``MongoSink``: per-frame detection documents and configuration documents with history.

Collections of the ``vidsight`` database:

- ``detections``: one document per analysed frame, ``_id`` = the event id, with its objects
  and the distinct labels on it (index on camera + time, and on label + time);
- ``configs``: per camera or sensor one *current* document (``_id`` ``camera:<id>`` or
  ``sensor:<id>``; a tombstone marks it ``deleted``) and one *history* document per published
  version (``_id`` ``<kind>:<id>@<partition>:<offset>``), so the full history stays queryable.

Detections are written with an unordered ``insert_many`` (the fast path, about four times
faster than upserts on the local server); documents whose ``_id`` already exists, because of
a redelivery, are then replaced one by one, so the result is the same as an upsert of all.
A current config document is replaced only by a newer version (a filter on its version; an
older one loses with a duplicate-key error, which is expected and ignored).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pymongo
from bson.errors import BSONError
from pymongo import ReplaceOne
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    OperationFailure,
    PyMongoError,
)

from schemas import catalog
from schemas.records import AvroRecord, CameraConfig, Detections, SensorConfig, from_micros
from sinks.base import Sink
from sinks.batching import Batch, SourceMessage
from sinks.errors import BatchDataError, RecordDataError, StoreUnavailableError
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)

DETECTIONS = "detections"
CONFIGS = "configs"
_DUPLICATE_KEY = 11000
# Server codes that mean "this document", not "this server": bad values, too large, invalid.
_DATA_CODES = frozenset({2, 14, 17, 52, 53, 55, 56, 57, 10334, 17419, 15974})

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConfigDocs:
    """The history document of one config message and the current document it makes."""

    entity: str  # "camera:<id>" / "sensor:<id>"
    version: int  # source offset: total order on the single-partition config topics
    history: Document
    current: Document


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


def config_docs(message: SourceMessage, record: AvroRecord | None) -> ConfigDocs:
    """History and current documents of one config message (None record: a tombstone)."""
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
        "source": {"partition": message.partition, "offset": message.offset},
    }
    history = {
        "_id": f"{entity}@{message.partition}:{message.offset}",
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


def latest_current(docs: Sequence[ConfigDocs]) -> list[ConfigDocs]:
    """The newest config message per entity, in first-seen order."""
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

    def prepare(self, message: SourceMessage, record: AvroRecord | None) -> MongoValue:
        """The document(s) of one record."""
        if message.topic == catalog.DETECTIONS:
            if not isinstance(record, Detections):
                raise RecordDataError(f"expected Detections on {message.topic}")
            return detection_doc(record, message)
        return config_docs(message, record)

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
        except PyMongoError as exc:
            raise self._unavailable(exc) from exc

    def write(self, batch: Batch[MongoValue]) -> int:
        """Write one partition's documents idempotently."""
        try:
            if batch.topic == catalog.DETECTIONS:
                docs = [i.value for i in batch.items if isinstance(i.value, dict)]
                return self._insert_or_replace(self._db()[DETECTIONS], docs)
            configs = [i.value for i in batch.items if isinstance(i.value, ConfigDocs)]
            return self._write_configs(configs)
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

    def _write_configs(self, configs: list[ConfigDocs]) -> int:
        if not configs:
            return 0
        coll = self._db()[CONFIGS]
        ops: list[ReplaceOne[Document]] = [
            ReplaceOne({"_id": c.history["_id"]}, c.history, upsert=True) for c in configs
        ]
        ops += [
            ReplaceOne({"_id": c.entity, "version": {"$lte": c.version}}, c.current, upsert=True)
            for c in latest_current(configs)
        ]
        try:
            coll.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            # A duplicate key here is a newer current document winning: the intended outcome.
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
        return len(ops)

    def _classify(self, exc: BulkWriteError) -> Exception:
        errors = exc.details.get("writeErrors", [])
        if errors and all(e.get("code") in _DATA_CODES for e in errors):
            return BatchDataError(f"mongo rejected documents: {errors[0].get('errmsg')}")
        return self._unavailable(exc)

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError("mongo", f"{type(exc).__name__}: {exc}")
