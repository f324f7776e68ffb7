"""The registry's state: a pure fold over its records, the queries, and the decisions.

No Kafka, no HTTP. ``RegistryState`` answers every read from memory; a change is made in two
steps so the log stays the source of truth: a ``decide_*`` method checks the request against
the current state and returns the record that expresses it (or raises the Confluent error), the
caller makes that record durable, then ``apply`` folds it in. Replaying the log through
``apply`` rebuilds the same state, ids included.

Semantics follow Confluent Schema Registry:
- ids are global: the same canonical schema gets the same id under every subject, for ever
  (an id is never reused for another schema, even after a permanent delete);
- versions count per subject from 1; a new version is one more than the highest version the
  subject holds, soft-deleted ones included;
- a soft delete hides a version (reads show it with ``deleted=true``); a permanent delete is
  allowed only after a soft one and removes it; compatibility ignores soft-deleted versions;
- a schema's identity is its canonical text together with its references; a version that some
  stored schema references cannot be deleted (42206) until that schema is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.registry.avro_schema import AVRO, AvroSchema, parse_avro
from schemas.registry.compatibility import Compatibility, compatibility_problems
from schemas.registry.errors import (
    CorruptLogError,
    IncompatibleSchemaError,
    ReferenceExistsError,
    SchemaNotFoundError,
    SubjectConfigNotFoundError,
    SubjectModeNotFoundError,
    SubjectNotFoundError,
    SubjectNotSoftDeletedError,
    SubjectSoftDeletedError,
    VersionNotFoundError,
    VersionNotSoftDeletedError,
    VersionSoftDeletedError,
)
from schemas.registry.events import (
    ConfigDeleted,
    ConfigSet,
    Event,
    ModeDeleted,
    ModeSet,
    SchemaRegistered,
    SubjectDeleted,
    VersionDeleted,
)
from schemas.registry.references import Reference, ReferencedSchema, dependencies, pin
from schemas.registry.views import (
    LATEST,
    Registration,
    StoredSchema,
    SubjectVersion,
    parse_version,
)

__all__ = [
    "LATEST",
    "Registration",
    "RegistryState",
    "StoredSchema",
    "SubjectVersion",
    "parse_version",
]

GLOBAL_MODE = "READWRITE"
_Key = tuple[str, str, tuple[Reference, ...]]  # (schema type, canonical text, references)


@dataclass(slots=True)
class _Version:
    schema_id: int
    deleted: bool = False


@dataclass(slots=True)
class RegistryState:
    """Subjects, versions, ids and compatibility config, rebuilt by ``apply``."""

    default_compatibility: Compatibility = Compatibility.BACKWARD
    # subject -> version -> record; versions are inserted in increasing order.
    _subjects: dict[str, dict[int, _Version]] = field(default_factory=dict, init=False)
    _schemas: dict[int, StoredSchema] = field(default_factory=dict, init=False)
    _ids: dict[_Key, int] = field(default_factory=dict, init=False)
    _global: Compatibility | None = field(default=None, init=False)
    _subject_config: dict[str, Compatibility] = field(default_factory=dict, init=False)
    _subject_mode: dict[str, str] = field(default_factory=dict, init=False)
    _parsed: dict[int, AvroSchema] = field(default_factory=dict, init=False)

    # ------------------------------------------------------------------ fold

    def apply(self, event: Event) -> None:
        """Fold one record in. Deletes of what is already gone are no-ops (idempotent);
        a registration that contradicts an earlier id raises CorruptLogError."""
        match event:
            case SchemaRegistered():
                self._apply_registered(event)
            case VersionDeleted(subject=subject, version=version, permanent=permanent):
                versions = self._subjects.get(subject, {})
                if version in versions:
                    if permanent:
                        del versions[version]
                        if not versions:
                            del self._subjects[subject]
                    else:
                        versions[version].deleted = True
            case SubjectDeleted(subject=subject, permanent=permanent):
                if permanent:
                    self._subjects.pop(subject, None)
                    # Confluent drops a subject's own config with the subject itself.
                    self._subject_config.pop(subject, None)
                    self._subject_mode.pop(subject, None)
                else:
                    for record in self._subjects.get(subject, {}).values():
                        record.deleted = True
            case ConfigSet(subject=None, compatibility=level):
                self._global = level
            case ConfigSet(subject=str(subject), compatibility=level):
                self._subject_config[subject] = level
            case ConfigDeleted(subject=None):
                self._global = None
            case ConfigDeleted(subject=str(subject)):
                self._subject_config.pop(subject, None)
            case ModeSet(subject=subject, mode=mode):
                self._subject_mode[subject] = mode
            case ModeDeleted(subject=subject):
                self._subject_mode.pop(subject, None)

    def _apply_registered(self, event: SchemaRegistered) -> None:
        key = (event.schema_type, event.schema, event.references)
        known = self._schemas.get(event.schema_id)
        if known is not None and (known.schema_type, known.schema, known.references) != key:
            raise CorruptLogError(f"schema id {event.schema_id} is registered twice, differently")
        if self._ids.get(key, event.schema_id) != event.schema_id:
            raise CorruptLogError(
                f"{event.subject} version {event.version}: schema already has id "
                f"{self._ids[key]}, record says {event.schema_id}"
            )
        versions = self._subjects.setdefault(event.subject, {})
        if event.version in versions:
            raise CorruptLogError(f"{event.subject} version {event.version} is registered twice")
        self._schemas[event.schema_id] = StoredSchema(event.schema_id, *key)
        self._ids[key] = event.schema_id
        versions[event.version] = _Version(event.schema_id)

    # --------------------------------------------------------------- queries

    def subjects(self, *, deleted: bool = False, deleted_only: bool = False) -> list[str]:
        """Subject names, sorted; soft-deleted ones only with ``deleted`` or ``deleted_only``."""
        names = []
        for name, versions in self._subjects.items():
            live = any(not v.deleted for v in versions.values())
            if (deleted_only and not live) or (not deleted_only and (live or deleted)):
                names.append(name)
        return sorted(names)

    def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        """Version numbers of ``subject``, ascending; 40401 when it has none to show."""
        versions = [v for v, rec in self._all(subject).items() if deleted or not rec.deleted]
        if not versions:
            raise SubjectNotFoundError(subject)
        return versions

    def get_version(self, subject: str, version: int, *, deleted: bool = False) -> SubjectVersion:
        """One version (LATEST allowed); 40401 / 40402 when it is not there to show."""
        shown = self.versions(subject, deleted=deleted)
        number = shown[-1] if version == LATEST else version
        if number not in shown:
            raise VersionNotFoundError(version)
        return self._view(subject, number)

    def schema(self, schema_id: int) -> StoredSchema:
        """The schema behind an id while some version (soft-deleted included) still uses it."""
        stored = self._schemas.get(schema_id)
        if stored is None or not self.schema_versions(schema_id, deleted=True):
            raise SchemaNotFoundError(schema_id)
        return stored

    @property
    def max_schema_id(self) -> int:
        return max(self._schemas, default=0)

    def schema_versions(self, schema_id: int, *, deleted: bool = False) -> list[tuple[str, int]]:
        """(subject, version) pairs that use ``schema_id``, sorted."""
        return sorted(
            (subject, number)
            for subject, versions in self._subjects.items()
            for number, rec in versions.items()
            if rec.schema_id == schema_id and (deleted or not rec.deleted)
        )

    def lookup(self, subject: str, schema: AvroSchema, *, deleted: bool = False) -> SubjectVersion:
        """The version of ``subject`` holding ``schema``; 40401 / 40403 when there is none."""
        shown = self.versions(subject, deleted=deleted)
        schema_id = self._ids.get(_key(schema))
        # Newest first, so a schema registered again after a soft delete finds the live copy.
        for number in reversed(shown):
            if self._subjects[subject][number].schema_id == schema_id:
                return self._view(subject, number)
        raise SchemaNotFoundError()

    def compatibility(self, subject: str | None = None) -> Compatibility:
        """The level in force for ``subject`` (its own, else the global one)."""
        if subject is not None and subject in self._subject_config:
            return self._subject_config[subject]
        return self._global or self.default_compatibility

    def subject_compatibility(
        self, subject: str, *, default_to_global: bool = False
    ) -> Compatibility:
        """The level set on ``subject`` itself; 40408 when none is (unless defaulting)."""
        if subject in self._subject_config:
            return self._subject_config[subject]
        if default_to_global:
            return self.compatibility()
        raise SubjectConfigNotFoundError(subject)

    def check(self, subject: str, schema: AvroSchema, version: int | None) -> list[str]:
        """Problems ``schema`` would have under ``subject``'s level: against one version (LATEST
        allowed), or with None against what a registration would be checked against."""
        level = self.compatibility(subject)
        live = self._live_newest_first(subject)
        if version is None:
            return compatibility_problems(level, schema, live)
        if version == LATEST:
            # Confluent: checking against the latest of a subject without versions passes.
            return compatibility_problems(level, schema, live[:1], all_given=True)
        target = [(number, parsed) for number, parsed in live if number == version]
        if not target:
            raise VersionNotFoundError(version)
        return compatibility_problems(level, schema, target, all_given=True)

    def listing(
        self, prefix: str = "", *, deleted: bool = False, latest_only: bool = False
    ) -> list[SubjectVersion]:
        """Every version of the subjects starting with ``prefix`` (``GET /schemas``), by
        subject then version; with ``latest_only`` the newest shown version of each."""
        shown = []
        for subject in sorted(self._subjects):
            if not subject.startswith(prefix):
                continue
            numbers = [
                v for v, rec in self._subjects[subject].items() if deleted or not rec.deleted
            ]
            for number in numbers[-1:] if latest_only else numbers:
                shown.append(self._view(subject, number))
        return shown

    def referenced_by(self, subject: str, version: int) -> list[int]:
        """Ids of the stored schemas that reference ``version`` of ``subject``, ascending."""
        return sorted(
            schema_id
            for schema_id, stored in self._schemas.items()
            if any(ref.subject == subject and ref.version == version for ref in stored.references)
            and self.schema_versions(schema_id, deleted=True)
        )

    def parse(self, text: str, references: tuple[Reference, ...] = ()) -> AvroSchema:
        """Parse ``text`` with the named types of ``references`` known; 42201 when a referenced
        version does not exist. A reference to version -1 is pinned to the latest version."""
        pinned = tuple(self._pin(ref) for ref in references)
        return parse_avro(text, pinned, dependencies(pinned, self._referenced))

    def _pin(self, ref: Reference) -> Reference:
        versions = self._all(ref.subject)
        return pin(ref, [v for v, rec in versions.items() if not rec.deleted], list(versions))

    def _referenced(self, ref: Reference) -> ReferencedSchema:
        stored = self._schemas[self._subjects[ref.subject][ref.version].schema_id]
        return ReferencedSchema(stored.schema, stored.references)

    def subject_mode(self, subject: str, *, default_to_global: bool = False) -> str:
        """The mode set on ``subject`` itself; 40409 when none is (unless defaulting)."""
        if subject in self._subject_mode:
            return self._subject_mode[subject]
        if default_to_global:
            return GLOBAL_MODE
        raise SubjectModeNotFoundError(subject)

    def decide_delete_mode(self, subject: str) -> tuple[str, ModeDeleted]:
        """The mode being removed and the record; 40401 when ``subject`` has none of its own."""
        if subject not in self._subject_mode:
            raise SubjectNotFoundError(subject)
        return self._subject_mode[subject], ModeDeleted(subject)

    # ------------------------------------------------------------- decisions

    def decide_register(self, subject: str, schema: AvroSchema) -> Registration:
        """Where ``schema`` lands in ``subject``; 409 IncompatibleSchemaError when it breaks
        the subject's level. An identical live version answers with no event (idempotent)."""
        existing_id = self._ids.get(_key(schema))
        versions = self._subjects.get(subject, {})
        for number in reversed(versions):
            record = versions[number]
            if not record.deleted and record.schema_id == existing_id:
                return Registration(record.schema_id, number, None)
        problems = compatibility_problems(
            self.compatibility(subject), schema, self._live_newest_first(subject)
        )
        if problems:
            raise IncompatibleSchemaError(subject, problems)
        schema_id = existing_id if existing_id is not None else self.max_schema_id + 1
        version = max(versions, default=0) + 1
        event = SchemaRegistered(
            subject, version, schema_id, schema.canonical, AVRO, schema.references
        )
        return Registration(schema_id, version, event)

    def decide_delete_subject(
        self, subject: str, *, permanent: bool
    ) -> tuple[list[int], SubjectDeleted]:
        """The versions a subject delete removes, and its record (Confluent's checks)."""
        versions = self._all(subject)
        if not versions:
            raise SubjectNotFoundError(subject)
        live = [v for v, rec in versions.items() if not rec.deleted]
        if permanent:
            if live:
                raise SubjectNotSoftDeletedError(subject)
            self._refuse_referenced(subject, list(versions))
            return list(versions), SubjectDeleted(subject, permanent=True)
        if not live:
            raise SubjectSoftDeletedError(subject)
        self._refuse_referenced(subject, live)
        return live, SubjectDeleted(subject, permanent=False)

    def decide_delete_version(
        self, subject: str, version: int, *, permanent: bool
    ) -> tuple[int, VersionDeleted]:
        """The version a delete removes (LATEST allowed), and its record."""
        versions = self._all(subject)
        if not versions:
            raise SubjectNotFoundError(subject)
        if version == LATEST:
            # A permanent delete acts on soft-deleted versions, so "latest" counts them too.
            candidates = [v for v, rec in versions.items() if permanent or not rec.deleted]
            if not candidates:
                raise VersionNotFoundError(version)
            version = candidates[-1]
        record = versions.get(version)
        if record is None:
            raise VersionNotFoundError(version)
        if permanent and not record.deleted:
            raise VersionNotSoftDeletedError(subject, version)
        if not permanent and record.deleted:
            raise VersionSoftDeletedError(subject, version)
        self._refuse_referenced(subject, [version])
        return version, VersionDeleted(subject, version, permanent=permanent)

    def decide_delete_config(self, subject: str | None) -> tuple[Compatibility, ConfigDeleted]:
        """The level being removed and the record; 40401 when ``subject`` has none of its own
        (Confluent answers "subject not found" here, not 40408)."""
        if subject is None:
            return self.compatibility(), ConfigDeleted(None)
        if subject not in self._subject_config:
            raise SubjectNotFoundError(subject)
        return self._subject_config[subject], ConfigDeleted(subject)

    # --------------------------------------------------------------- helpers

    def _refuse_referenced(self, subject: str, versions: list[int]) -> None:
        for version in versions:
            referrers = self.referenced_by(subject, version)
            if referrers:
                raise ReferenceExistsError(subject, version, referrers)

    def _all(self, subject: str) -> dict[int, _Version]:
        return self._subjects.get(subject, {})

    def _view(self, subject: str, number: int) -> SubjectVersion:
        record = self._subjects[subject][number]
        stored = self._schemas[record.schema_id]
        return SubjectVersion(
            subject,
            number,
            record.schema_id,
            stored.schema_type,
            stored.schema,
            record.deleted,
            stored.references,
        )

    def parsed(self, schema_id: int) -> AvroSchema:
        """The parsed form of a stored schema, parsed once and kept."""
        if schema_id not in self._parsed:
            stored = self._schemas[schema_id]
            self._parsed[schema_id] = self.parse(stored.schema, stored.references)
        return self._parsed[schema_id]

    def _live_newest_first(self, subject: str) -> list[tuple[int, AvroSchema]]:
        versions = self._all(subject)
        return [
            (number, self.parsed(versions[number].schema_id))
            for number in reversed(versions)
            if not versions[number].deleted
        ]


def _key(schema: AvroSchema) -> _Key:
    return (AVRO, schema.canonical, schema.references)
