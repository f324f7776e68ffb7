"""Avro serde with the Confluent wire format: byte 0x00, 4-byte big-endian schema id, Avro binary.

Encoding writes with the current schema of the topic (from ``schemas.catalog``) under the id the
registry gives for ``<topic>-value``. Decoding resolves the writer schema by the id in the
message and reads it into the current schema, so events written before a compatible change
still decode. Parsed schemas and resolution plans are cached per schema id, so the registry is
asked once per id per process.

fastavro does the Avro work. The schemas are used with their ``logicalType`` annotations
stripped: the bytes are identical, but timestamps stay ``int`` microseconds and uuids stay
``str`` instead of being converted to ``datetime``/``UUID`` and back on every message, which is
both what the records hold and the fastest path.

Errors are narrow, because callers act on their type:

- bad data raises ``SerializationError`` naming topic/partition/offset (the record goes to the
  DLQ): no value, a wrong magic byte, a schema id the registry does not know, bytes that are not
  a datum of the writer schema (truncated, trailing, invalid UTF-8, an index out of range), a
  value the record's own checks refuse (``ValueError`` in ``from_avro``);
- a registry that cannot answer (transport error, 5xx) raises ``RegistryUnavailableError``: an
  outage to wait out, not a bad record; other registry refusals (credentials, a subject not
  registered) raise their ``SchemaError`` and stop the process with that message;
- anything else (a ``TypeError``, ``AttributeError`` or ``KeyError`` in a record's
  ``from_avro``) is a bug: it propagates with a note naming the message, so it is fixed
  instead of dead-lettering every record of a topic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from io import BytesIO
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException, to_parsing_canonical_form

from schemas import catalog
from schemas.errors import (
    SchemaError,
    SerializationError,
)
from schemas.records import RECORD_TYPES, AvroRecord
from schemas.registry_access import RegistryResolver, RegistryTarget

log = logging.getLogger(__name__)

MAGIC_BYTE = 0
_HEADER_SIZE = 5

# What fastavro raises reading bytes that are not a datum of the writer schema: input that
# ends early or claims a negative length (EOFError), invalid UTF-8 (a ValueError), a union
# branch or enum index out of range (IndexError), a writer value the reader cannot take.
_MALFORMED = (EOFError, ValueError, IndexError, OverflowError, SchemaResolutionError)
# What a record's ``from_avro`` raises for a value its schema allows but the record refuses
# (an enum symbol it does not know, a range check): the record is bad, not the code.
_INVALID = (ValueError,)

R = TypeVar("R", bound=AvroRecord)


class SchemaResolver(Protocol):
    """Where the codec gets schema ids and writer schemas: the registry, or memory in tests.

    Implementations raise ``SerializationError`` for an id or subject they do not know and
    ``RegistryUnavailableError`` when they cannot answer right now.
    """

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text registered under a global schema id."""
        ...

    def id_for(self, subject: str, schema_text: str) -> int:
        """The id of a schema under a subject (registering it first if the resolver may)."""
        ...


class InMemorySchemaResolver:
    """A resolver holding schemas in a dict; ids count up from 1 like a fresh registry's.

    The codec's dependency-injection point for unit tests and tools that run without a
    registry. It does no compatibility checking.
    """

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self.subjects: dict[str, list[int]] = {}

    def add(self, schema_text: str) -> int:
        """Store a schema without a subject (e.g. an older version) and return its id."""
        key = _canonical(schema_text)
        if key not in self._ids:
            self._ids[key] = len(self._ids) + 1
            self._texts[self._ids[key]] = schema_text
        return self._ids[key]

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text of an id; SerializationError when unknown."""
        try:
            return self._texts[schema_id]
        except KeyError:
            raise SerializationError(f"unknown schema id {schema_id}") from None

    def id_for(self, subject: str, schema_text: str) -> int:
        """Register the schema under the subject (idempotent) and return its id."""
        schema_id = self.add(schema_text)
        versions = self.subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id


def _canonical(schema_text: str) -> str:
    return json.dumps(json.loads(schema_text), sort_keys=True, separators=(",", ":"))


def _strip_logical(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical(v) for v in node]
    return node


def _wire_schema(schema_json: Any) -> dict[str, Any]:
    return cast(dict[str, Any], parse_schema(_strip_logical(schema_json)))


class TopicSerde(Generic[R]):
    """Encoder/decoder of one topic's values as records of one type; get it from ``Serde``."""

    def __init__(self, spec: catalog.TopicSpec, record_type: type[R], resolver: SchemaResolver):
        if spec.value_schema is None:
            raise SchemaError(f"topic {spec.name} carries raw bytes, not Avro")
        if spec.value_schema != record_type.SCHEMA:
            raise SchemaError(
                f"topic {spec.name} holds {spec.value_schema}, not {record_type.SCHEMA}"
            )
        self.topic = spec.name
        self.subject = catalog.value_subject(spec.name)
        self.record_type = record_type
        self._resolver = resolver
        self._stem = spec.value_schema
        reader_json = _strip_logical(catalog.schema_dict(self._stem))
        self._reader = _wire_schema(reader_json)
        self._reader_canonical = to_parsing_canonical_form(reader_json)
        self._header: bytes | None = None
        # schema id -> (writer schema, reader schema or None when they are the same)
        self._plans: dict[int, tuple[dict[str, Any], dict[str, Any] | None]] = {}

    @property
    def schema_id(self) -> int:
        """Registry id of the current schema under this topic's subject (resolved once)."""
        return int.from_bytes(self._writer_header()[1:], "big")

    def _writer_header(self) -> bytes:
        if self._header is None:
            schema_id = self._resolver.id_for(self.subject, catalog.schema_text(self._stem))
            self._header = bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big")
            self._plans.setdefault(schema_id, (self._reader, None))
        return self._header

    # -- encoding -------------------------------------------------------------------------

    def encode(self, record: R) -> bytes:
        """Framed Avro bytes of one record."""
        return self.encode_datum(record.to_avro())

    def encode_many(self, records: Iterable[R]) -> list[bytes]:
        """Framed Avro bytes of many records, in order."""
        return [self.encode_datum(r.to_avro()) for r in records]

    def encode_datum(self, datum: Mapping[str, Any]) -> bytes:
        """Framed Avro bytes of a plain datum (Avro field names, times as int micros)."""
        header = self._header if self._header is not None else self._writer_header()
        buf = BytesIO()
        buf.write(header)
        try:
            schemaless_writer(buf, self._reader, datum)
        except Exception as exc:
            raise SerializationError(
                f"cannot encode {self._stem}: {type(exc).__name__}: {exc}", topic=self.topic
            ) from exc
        return buf.getvalue()

    # -- decoding -------------------------------------------------------------------------

    def decode(
        self, data: bytes | None, *, partition: int | None = None, offset: int | None = None
    ) -> R:
        """The record in framed Avro bytes; a null value (tombstone) is a SerializationError."""
        datum = self.decode_datum(data, partition=partition, offset=offset)
        try:
            return self.record_type.from_avro(datum)
        except _INVALID as exc:
            raise self._error(exc, partition, offset) from exc
        except Exception as exc:
            self._note_bug(exc, partition, offset)
            raise

    def decode_or_tombstone(
        self, data: bytes | None, *, partition: int | None = None, offset: int | None = None
    ) -> R | None:
        """Like ``decode``, but a null value (a tombstone on a compacted topic) gives None."""
        if data is None:
            return None
        return self.decode(data, partition=partition, offset=offset)

    def decode_many(
        self,
        values: Iterable[bytes | None],
        *,
        partition: int | None = None,
        offsets: Sequence[int] | None = None,
    ) -> list[R]:
        """Records of many framed values, in order; the error names the first bad one."""
        make = self.record_type.from_avro
        out: list[R] = []
        for i, data in enumerate(values):
            offset = None if offsets is None else offsets[i]
            datum = self.decode_datum(data, partition=partition, offset=offset)
            try:
                out.append(make(datum))
            except _INVALID as exc:
                raise self._error(exc, partition, offset) from exc
            except Exception as exc:
                self._note_bug(exc, partition, offset)
                raise
        return out

    def decode_datum(
        self, data: bytes | None, *, partition: int | None = None, offset: int | None = None
    ) -> dict[str, Any]:
        """The plain datum in framed Avro bytes (Avro field names, times as int micros)."""
        if data is None:
            raise self._bad("null value (tombstone) where a record is required", partition, offset)
        if len(data) < _HEADER_SIZE:
            raise self._bad(
                f"{len(data)} bytes is shorter than the 5-byte header", partition, offset
            )
        if data[0] != MAGIC_BYTE:
            raise self._bad(f"wrong magic byte {data[0]:#04x}, expected 0x00", partition, offset)
        schema_id = int.from_bytes(data[1:_HEADER_SIZE], "big")
        plan = self._plans.get(schema_id)
        if plan is None:
            try:
                plan = self._plan(schema_id)
            except SerializationError as exc:  # an id the registry does not know, or not Avro
                raise self._error(exc, partition, offset) from exc
        buf = BytesIO(data)
        buf.seek(_HEADER_SIZE)
        try:
            datum: dict[str, Any] = schemaless_reader(buf, plan[0], plan[1])  # type: ignore[assignment]
        except _MALFORMED as exc:
            raise self._error(exc, partition, offset) from exc
        if buf.tell() != len(data):
            raise self._bad(
                f"{len(data) - buf.tell()} trailing bytes after the record (schema id {schema_id})",
                partition,
                offset,
            )
        return datum

    def _plan(self, schema_id: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        text = self._resolver.schema_by_id(schema_id)
        try:
            writer_json = _strip_logical(json.loads(text))
            # Same binary layout (registries may return the text with docs, namespaces or key
            # order changed): read straight into the reader schema, skipping the resolution
            # pass that costs about 40% of a decode. An older or newer writer: fastavro
            # resolves into the current schema (defaults for fields the writer lacks, the enum
            # default for symbols the reader lacks).
            same = to_parsing_canonical_form(writer_json) == self._reader_canonical
            plan = (self._reader, None) if same else (_wire_schema(writer_json), self._reader)
        except (ValueError, SchemaParseException) as exc:  # the registry's text, not ours
            raise SerializationError(
                f"schema id {schema_id} is not a valid Avro schema: {exc}"
            ) from exc
        self._plans[schema_id] = plan
        log.info(
            "writer schema resolved topic=%s schema_id=%d resolution=%s",
            self.topic,
            schema_id,
            "none" if plan[1] is None else "to-current",
        )
        return plan

    def _bad(self, reason: str, partition: int | None, offset: int | None) -> SerializationError:
        return SerializationError(reason, topic=self.topic, partition=partition, offset=offset)

    def _note_bug(self, exc: BaseException, partition: int | None, offset: int | None) -> None:
        exc.add_note(
            f"in {self.record_type.__name__}.from_avro decoding topic={self.topic} "
            f"partition={partition} offset={offset}: a bug in the record class, not bad data"
        )

    def _error(
        self, exc: BaseException, partition: int | None, offset: int | None
    ) -> SerializationError:
        reason = (
            exc.reason
            if isinstance(exc, SerializationError)
            else f"cannot decode {self._stem}: {type(exc).__name__}: {exc}"
        )
        return SerializationError(reason, topic=self.topic, partition=partition, offset=offset)


class Serde:
    """The codec of every catalog topic, sharing one resolver and its caches.

    Typical hot-path use (keep the ``TopicSerde``, it holds the caches)::

        serde = Serde.for_registry(settings)  # any Endpoints, or a bare URL
        detections = serde.topic(catalog.DETECTIONS, Detections)
        value = detections.encode(record)
        record = detections.decode(msg.value(), partition=msg.partition(), offset=msg.offset())
    """

    def __init__(self, resolver: SchemaResolver) -> None:
        self.resolver = resolver
        self._topics: dict[str, TopicSerde[Any]] = {}

    @classmethod
    def for_registry(cls, registry: RegistryTarget, *, auto_register: bool = True) -> Serde:
        """A serde backed by the registry of the settings (with their credentials) or a URL."""
        return cls(RegistryResolver(registry, auto_register=auto_register))

    @overload
    def topic(self, name: str) -> TopicSerde[Any]: ...

    @overload
    def topic(self, name: str, record_type: type[R]) -> TopicSerde[R]: ...

    def topic(self, name: str, record_type: type[R] | None = None) -> TopicSerde[Any]:
        """The codec of one topic; pass the record class to get precisely typed results."""
        codec = self._topics.get(name)
        if codec is None:
            spec = catalog.topic(name)
            if spec.value_schema is None:
                raise SchemaError(f"topic {name} carries raw bytes, not Avro")
            codec = TopicSerde(spec, RECORD_TYPES[spec.value_schema], self.resolver)
            self._topics[name] = codec
        if record_type is not None and codec.record_type is not record_type:
            raise SchemaError(
                f"topic {name} holds {codec.record_type.__name__} records, "
                f"not {record_type.__name__}"
            )
        return codec

    def encode(self, topic: str, record: AvroRecord) -> bytes:
        """Framed Avro bytes of one record for a topic."""
        return self.topic(topic).encode(record)

    def decode(
        self,
        topic: str,
        data: bytes | None,
        *,
        partition: int | None = None,
        offset: int | None = None,
    ) -> AvroRecord:
        """The record in one framed value of a topic."""
        record: AvroRecord = self.topic(topic).decode(data, partition=partition, offset=offset)
        return record

    def encode_many(self, topic: str, records: Iterable[AvroRecord]) -> list[bytes]:
        """Framed Avro bytes of many records for a topic."""
        return self.topic(topic).encode_many(records)

    def decode_many(
        self,
        topic: str,
        values: Iterable[bytes | None],
        *,
        partition: int | None = None,
        offsets: Sequence[int] | None = None,
    ) -> list[AvroRecord]:
        """Records of many framed values of a topic."""
        return self.topic(topic).decode_many(values, partition=partition, offsets=offsets)
