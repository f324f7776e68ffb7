"""Avro schema text in, a validated schema with one canonical text out.

Identity: two registrations get the same id when their canonical texts are equal. The canonical
text is the schema as the ``avro`` package parsed it, written back as compact JSON with sorted
keys: whitespace, key order and namespace spelling disappear, while everything that changes
what a reader does stays (defaults, logical types, aliases, docs, custom properties).
Avro's *Parsing Canonical Form* is deliberately not the identity: it strips defaults and logical
types, so ``long`` and ``timestamp-micros`` (or a field with and without a default) would share
one id and a consumer would decode with the wrong schema. Confluent makes the same choice (its
lookup hashes the full schema string). The fingerprint of the Parsing Canonical Form is still
exposed for tools that want it.

A schema with references is parsed after the schemas it references (their named types become
known first), and its canonical text names those types without copying them in; its identity is
the canonical text together with the references.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import avro.name
import avro.schema
import fastavro
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas.registry.errors import InvalidSchemaError
from schemas.registry.limits import check_depth
from schemas.registry.references import Reference

AVRO = "AVRO"


@dataclass(frozen=True, slots=True)
class AvroSchema:
    """A schema that parsed and validated; equal when the canonical texts are equal."""

    canonical: str
    parsed: avro.schema.Schema = field(compare=False, repr=False)
    references: tuple[Reference, ...] = ()

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the Parsing Canonical Form (Avro spec), hex."""
        return hashlib.sha256(self.parsed.canonical_form.encode()).hexdigest()


def parse_avro(
    text: str,
    references: tuple[Reference, ...] = (),
    dependencies: Sequence[str] = (),
) -> AvroSchema:
    """Parse and validate Avro schema JSON; raise InvalidSchemaError (42201) saying why.

    ``dependencies`` are the texts of the schemas ``references`` pull in, each after the ones
    it needs (``references.dependencies`` orders them).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchemaError("Invalid schema: the schema must be a non-empty string")
    # Both Avro parsers (and json) recurse per level: measure the depth before any of them runs.
    check_depth(text, "Invalid schema: the schema")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSchemaError(f"Invalid schema: not JSON ({exc})") from exc
    with warnings.catch_warnings():
        # avro warns (IgnoredLogicalType) and keeps the base type for a logical type it cannot
        # honour, e.g. decimal on a long; Java Avro and Confluent accept those the same way, so
        # this is not an error, and a warning filter set to "error" must not make it one.
        warnings.simplefilter("ignore")
        try:
            if dependencies:
                parsed, known = _parse_with(data, dependencies)
            else:
                parsed, known = avro.schema.parse(text), avro.name.Names()
                # fastavro is the reader the project's serde and confluent-kafka use, and unlike
                # the avro package it checks that defaults match their field types: a schema
                # whose default fastavro rejects would be registered fine and fail in every
                # consumer.
                fastavro.parse_schema(data)
        # Both libraries raise assorted classes for bad input (avro's AvroException, fastavro's
        # own SchemaParseException, plain TypeError/KeyError on odd shapes), so catch them all.
        except Exception as exc:
            raise InvalidSchemaError(f"Invalid schema: {exc}") from exc
    # Named types of the referenced schemas are written by name: they stay in their subjects.
    canonical = json.dumps(parsed.to_json(known), sort_keys=True, separators=(",", ":"))
    return AvroSchema(canonical=canonical, parsed=parsed, references=references)


def _parse_with(data: Any, dependencies: Sequence[str]) -> tuple[avro.schema.Schema, Any]:
    """Parse ``data`` after ``dependencies`` with both libraries; the parsed schema and the
    names the dependencies define."""
    names = avro.name.Names(validate_names=True)
    named: dict[str, Any] = {}
    for text in dependencies:
        dependency = json.loads(text)
        avro.schema.make_avsc_object(dependency, names)
        fastavro.parse_schema(dependency, named_schemas=named)
    known = avro.name.Names(validate_names=True)
    known.names = dict(names.names)
    parsed = avro.schema.make_avsc_object(data, names)
    fastavro.parse_schema(data, named_schemas=named)
    return parsed, known


def _short(schema: avro.schema.Schema) -> str:
    return json.dumps(schema.to_json(), sort_keys=True, separators=(",", ":"))


def read_problems(reader: AvroSchema, writer: AvroSchema) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer``; empty when it can."""
    # A fresh checker each time: it memoises on object identity across calls.
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader.parsed, writer.parsed)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted({kind.name.upper() for kind in result.incompatibilities}))
    return [
        f"Incompatibility{{type:{kinds}, location:{', '.join(sorted(result.locations))}, "
        f"message:{'; '.join(sorted(result.messages))}, reader:{_short(reader.parsed)}, "
        f"writer:{_short(writer.parsed)}}}"
    ]
