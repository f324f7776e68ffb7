"""The registry core: ids, versions, deletes, config, lookups and replay, with plain data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.registry.avro_schema import parse_avro
from schemas.registry.compatibility import Compatibility
from schemas.registry.errors import (
    CorruptLogError,
    IncompatibleSchemaError,
    InvalidSchemaError,
    InvalidVersionError,
    RegistryError,
    SchemaNotFoundError,
    SubjectConfigNotFoundError,
    SubjectNotFoundError,
    SubjectNotSoftDeletedError,
    SubjectSoftDeletedError,
    VersionNotFoundError,
    VersionNotSoftDeletedError,
    VersionSoftDeletedError,
)
from schemas.registry.events import ConfigSet, Event, SchemaRegistered
from schemas.registry.state import LATEST, Registration, RegistryState, parse_version


def record(*fields: tuple[str, object], name: str = "Reading") -> str:
    """A record schema with the given (name, type-or-field-dict) fields."""
    out = []
    for field_name, spec in fields:
        out.append(
            {"name": field_name, **spec}
            if isinstance(spec, dict)
            else {"name": field_name, "type": spec}
        )
    return json.dumps({"type": "record", "name": name, "namespace": "vidsight.test", "fields": out})


V1 = record(("camera_id", "string"))
V2 = record(("camera_id", "string"), ("score", {"type": "double", "default": 0.0}))
V3_NO_DEFAULT = record(("camera_id", "string"), ("score", "double"))
OTHER = record(("zone", "string"), name="Zone")


def register(state: RegistryState, subject: str, text: str) -> Registration:
    registration = state.decide_register(subject, parse_avro(text))
    if registration.event is not None:
        state.apply(registration.event)
    return registration


def delete_subject(state: RegistryState, subject: str, *, permanent: bool = False) -> list[int]:
    versions, event = state.decide_delete_subject(subject, permanent=permanent)
    state.apply(event)
    return versions


def delete_version(
    state: RegistryState, subject: str, version: int, *, permanent: bool = False
) -> int:
    number, event = state.decide_delete_version(subject, version, permanent=permanent)
    state.apply(event)
    return number


# --------------------------------------------------------------------------- ids and versions


def test_first_registration_gets_id_1_and_version_1() -> None:
    state = RegistryState()
    reg = register(state, "frames-value", V1)
    assert (reg.schema_id, reg.version) == (1, 1)
    assert state.subjects() == ["frames-value"]
    assert state.versions("frames-value") == [1]


def test_same_schema_under_another_subject_gets_the_same_id() -> None:
    state = RegistryState()
    first = register(state, "a-value", V1)
    second = register(state, "b-value", V1)
    assert second.schema_id == first.schema_id
    assert second.version == 1
    assert state.schema_versions(first.schema_id) == [("a-value", 1), ("b-value", 1)]


def test_whitespace_and_key_order_do_not_change_the_id() -> None:
    state = RegistryState()
    compact = register(state, "a-value", V1)
    spaced = json.dumps(json.loads(V1), indent=4)
    reordered = json.dumps(dict(reversed(list(json.loads(V1).items()))))
    assert register(state, "b-value", spaced).schema_id == compact.schema_id
    assert register(state, "c-value", reordered).schema_id == compact.schema_id


def test_defaults_and_logical_types_are_part_of_the_identity() -> None:
    # Parsing Canonical Form would merge these; consumers would then decode with the wrong one.
    plain = record(("ts", "long"))
    micros = record(("ts", {"type": {"type": "long", "logicalType": "timestamp-micros"}}))
    state = RegistryState(default_compatibility=Compatibility.NONE)
    assert register(state, "a", plain).schema_id != register(state, "b", micros).schema_id


def test_registering_the_same_schema_again_is_idempotent() -> None:
    state = RegistryState()
    first = register(state, "a-value", V1)
    again = state.decide_register("a-value", parse_avro(V1))
    assert again == Registration(first.schema_id, 1, None)


def test_ids_are_global_and_monotonic() -> None:
    state = RegistryState(default_compatibility=Compatibility.NONE)
    ids = [register(state, "s", text).schema_id for text in (V1, V2, OTHER)]
    assert ids == [1, 2, 3]
    assert register(state, "t", V2).schema_id == 2
    assert state.max_schema_id == 3


def test_versions_count_per_subject() -> None:
    state = RegistryState()
    register(state, "a", V1)
    register(state, "a", V2)
    register(state, "b", V2)
    assert state.versions("a") == [1, 2]
    assert state.versions("b") == [1]
    assert state.get_version("a", LATEST).version == 2
    assert state.get_version("a", 1).schema == parse_avro(V1).canonical


def test_stored_schema_is_canonical_and_parses_back_to_itself() -> None:
    state = RegistryState()
    register(state, "a", json.dumps(json.loads(V2), indent=2))
    text = state.schema(1).schema
    assert parse_avro(text).canonical == text
    assert "\n" not in text


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "",
        '{"type": "record", "name": "X"}',
        '{"type": "nope"}',
        # fastavro (the project's reader) would reject this default at read time.
        '{"type":"record","name":"X","fields":[{"name":"a","type":"int","default":"x"}]}',
        '{"type":"enum","name":"E","symbols":["A","A"]}',
    ],
)
def test_invalid_schemas_are_rejected_with_42201(text: str) -> None:
    with pytest.raises(InvalidSchemaError) as err:
        parse_avro(text)
    assert err.value.error_code == 42201
    assert err.value.http_status == 422


def test_unknown_logical_type_is_accepted_like_confluent() -> None:
    parse_avro('{"type": "long", "logicalType": "decimal"}')


@pytest.mark.parametrize(("text", "expected"), [("latest", LATEST), ("-1", LATEST), ("7", 7)])
def test_parse_version(text: str, expected: int) -> None:
    assert parse_version(text) == expected


def test_the_projects_own_schemas_are_accepted() -> None:
    files = sorted((Path(__file__).parents[3] / "schemas").glob("*.avsc"))
    assert files, "no .avsc files found next to the schemas package"
    state = RegistryState()
    for path in files:
        text = path.read_text()
        registration = register(state, f"{path.stem}-value", text)
        assert state.schema(registration.schema_id).schema == parse_avro(text).canonical
        # Compact or pretty, the same file maps to the same id.
        assert register(state, f"{path.stem}-copy", json.dumps(json.loads(text))).schema_id == (
            registration.schema_id
        )


@pytest.mark.parametrize("text", ["0", "-2", "abc", "1.5", str(2**31)])
def test_invalid_versions_are_42202(text: str) -> None:
    with pytest.raises(InvalidVersionError) as err:
        parse_version(text)
    assert err.value.error_code == 42202


# ---------------------------------------------------------------------------------- lookups


def test_lookup_finds_the_version_and_reports_missing_ones() -> None:
    state = RegistryState()
    register(state, "a", V1)
    register(state, "a", V2)
    found = state.lookup("a", parse_avro(json.dumps(json.loads(V1), indent=1)))
    assert (found.version, found.schema_id) == (1, 1)
    with pytest.raises(SchemaNotFoundError) as err:
        state.lookup("a", parse_avro(OTHER))
    assert err.value.error_code == 40403
    with pytest.raises(SubjectNotFoundError) as missing:
        state.lookup("nope", parse_avro(V1))
    assert missing.value.error_code == 40401


def test_missing_subject_version_and_id_codes() -> None:
    state = RegistryState()
    register(state, "a", V1)
    with pytest.raises(SubjectNotFoundError):
        state.versions("b")
    with pytest.raises(VersionNotFoundError) as err:
        state.get_version("a", 9)
    assert err.value.error_code == 40402
    with pytest.raises(SchemaNotFoundError):
        state.schema(99)


# ---------------------------------------------------------------------------------- deletes


def test_soft_deleted_version_is_hidden_unless_asked() -> None:
    state = RegistryState()
    register(state, "a", V1)
    register(state, "a", V2)
    assert delete_version(state, "a", 1) == 1
    assert state.versions("a") == [2]
    assert state.versions("a", deleted=True) == [1, 2]
    with pytest.raises(VersionNotFoundError):
        state.get_version("a", 1)
    assert state.get_version("a", 1, deleted=True).deleted is True
    # A deserializer holding bytes written with it must still find the schema by id.
    assert state.schema(1).schema == parse_avro(V1).canonical


def test_version_delete_error_codes() -> None:
    state = RegistryState()
    register(state, "a", V1)
    with pytest.raises(VersionNotSoftDeletedError) as not_soft:
        delete_version(state, "a", 1, permanent=True)
    assert not_soft.value.error_code == 40407
    delete_version(state, "a", 1)
    with pytest.raises(VersionSoftDeletedError) as soft:
        delete_version(state, "a", 1)
    assert soft.value.error_code == 40406
    with pytest.raises(VersionNotFoundError):
        delete_version(state, "a", 5)
    with pytest.raises(SubjectNotFoundError):
        delete_version(state, "zzz", 1)


def test_permanent_version_delete_removes_it_for_good() -> None:
    state = RegistryState()
    register(state, "a", V1)
    register(state, "a", V2)
    delete_version(state, "a", 2)
    assert delete_version(state, "a", 2, permanent=True) == 2
    assert state.versions("a", deleted=True) == [1]
    with pytest.raises(SchemaNotFoundError):
        state.schema(2)


def test_subject_soft_delete_then_permanent() -> None:
    state = RegistryState()
    register(state, "a", V1)
    register(state, "a", V2)
    with pytest.raises(SubjectNotSoftDeletedError) as not_soft:
        delete_subject(state, "a", permanent=True)
    assert not_soft.value.error_code == 40405
    assert delete_subject(state, "a") == [1, 2]
    assert state.subjects() == []
    assert state.subjects(deleted=True) == ["a"]
    assert state.subjects(deleted_only=True) == ["a"]
    with pytest.raises(SubjectSoftDeletedError) as soft:
        delete_subject(state, "a")
    assert soft.value.error_code == 40404
    assert delete_subject(state, "a", permanent=True) == [1, 2]
    assert state.subjects(deleted=True) == []
    with pytest.raises(SubjectNotFoundError):
        delete_subject(state, "a")


def test_reregistering_after_soft_delete_makes_a_new_version_with_the_same_id() -> None:
    state = RegistryState()
    register(state, "a", V1)
    delete_subject(state, "a")
    again = register(state, "a", V1)
    assert (again.schema_id, again.version) == (1, 2)


def test_ids_survive_a_permanent_delete_and_are_never_reused() -> None:
    state = RegistryState(default_compatibility=Compatibility.NONE)
    register(state, "a", V1)
    delete_subject(state, "a")
    delete_subject(state, "a", permanent=True)
    assert register(state, "b", OTHER).schema_id == 2
    back = register(state, "a", V1)
    assert (back.schema_id, back.version) == (1, 1)


def test_deleted_versions_do_not_count_for_compatibility() -> None:
    state = RegistryState()
    register(state, "a", V1)
    delete_subject(state, "a")
    # OTHER is incompatible with V1 but V1 is soft-deleted.
    assert register(state, "a", OTHER).version == 2


def test_delete_latest_resolves_the_live_latest() -> None:
    state = RegistryState()
    register(state, "a", V1)
    register(state, "a", V2)
    assert delete_version(state, "a", LATEST) == 2
    assert delete_version(state, "a", LATEST) == 1
    assert delete_version(state, "a", LATEST, permanent=True) == 2


# ---------------------------------------------------------------------------------- config


def test_config_global_and_per_subject() -> None:
    state = RegistryState()
    assert state.compatibility() is Compatibility.BACKWARD
    assert state.compatibility("a") is Compatibility.BACKWARD
    state.apply(ConfigSet(None, Compatibility.FULL))
    state.apply(ConfigSet("a", Compatibility.NONE))
    assert state.compatibility("a") is Compatibility.NONE
    assert state.compatibility("b") is Compatibility.FULL
    with pytest.raises(SubjectConfigNotFoundError) as err:
        state.subject_compatibility("b")
    assert err.value.error_code == 40408
    assert state.subject_compatibility("b", default_to_global=True) is Compatibility.FULL
    previous, event = state.decide_delete_config("a")
    state.apply(event)
    assert previous is Compatibility.NONE
    assert state.compatibility("a") is Compatibility.FULL
    with pytest.raises(SubjectNotFoundError):
        state.decide_delete_config("a")
    previous, event = state.decide_delete_config(None)
    state.apply(event)
    assert previous is Compatibility.FULL
    assert state.compatibility() is Compatibility.BACKWARD


def test_subject_config_decides_compatibility() -> None:
    state = RegistryState()
    register(state, "a", V1)
    with pytest.raises(IncompatibleSchemaError) as err:
        register(state, "a", OTHER)
    assert err.value.error_code == 409 and err.value.http_status == 409
    state.apply(ConfigSet("a", Compatibility.NONE))
    assert register(state, "a", OTHER).version == 2


def test_permanent_subject_delete_drops_its_config() -> None:
    state = RegistryState()
    register(state, "a", V1)
    state.apply(ConfigSet("a", Compatibility.NONE))
    delete_subject(state, "a")
    assert state.subject_compatibility("a") is Compatibility.NONE
    delete_subject(state, "a", permanent=True)
    with pytest.raises(SubjectConfigNotFoundError):
        state.subject_compatibility("a")


# ---------------------------------------------------------------------------------- replay


def test_contradicting_registration_in_the_log_is_refused() -> None:
    state = RegistryState()
    state.apply(SchemaRegistered("a", 1, 1, parse_avro(V1).canonical))
    with pytest.raises(CorruptLogError):
        state.apply(SchemaRegistered("b", 1, 1, parse_avro(V2).canonical))
    with pytest.raises(CorruptLogError):
        state.apply(SchemaRegistered("b", 1, 7, parse_avro(V1).canonical))
    with pytest.raises(CorruptLogError):
        state.apply(SchemaRegistered("a", 1, 2, parse_avro(V2).canonical))


SCHEMAS = [V1, V2, V3_NO_DEFAULT, OTHER, record(("x", "int"), name="X")]
_PARSED = [parse_avro(text) for text in SCHEMAS]
SUBJECTS = ["a", "b", "c"]

operation = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(SUBJECTS), st.integers(0, len(SCHEMAS) - 1)),
    st.tuples(
        st.just("delete_version"), st.sampled_from(SUBJECTS), st.integers(-1, 4), st.booleans()
    ),
    st.tuples(st.just("delete_subject"), st.sampled_from(SUBJECTS), st.booleans()),
    st.tuples(
        st.just("config"), st.sampled_from([*SUBJECTS, None]), st.sampled_from(list(Compatibility))
    ),
)


def _snapshot(state: RegistryState) -> object:
    subjects = state.subjects(deleted=True)
    return (
        subjects,
        {
            s: [state.get_version(s, v, deleted=True) for v in state.versions(s, deleted=True)]
            for s in subjects
        },
        {
            i: state.schema(i)
            for i in range(1, state.max_schema_id + 1)
            if state.schema_versions(i, deleted=True)
        },
        state.compatibility(),
        {s: state.compatibility(s) for s in SUBJECTS},
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(operation, max_size=30))
def test_replaying_the_records_rebuilds_the_same_state(ops: list[tuple[object, ...]]) -> None:
    state = RegistryState()
    events: list[Event] = []
    for op in ops:
        try:
            match op:
                case ("register", str(subject), int(index)):
                    event: Event | None = state.decide_register(subject, _PARSED[index]).event
                case ("delete_version", str(subject), int(version), bool(permanent)):
                    _, event = state.decide_delete_version(
                        subject, version or LATEST, permanent=permanent
                    )
                case ("delete_subject", str(subject), bool(permanent)):
                    _, event = state.decide_delete_subject(subject, permanent=permanent)
                case ("config", subject, Compatibility() as level):
                    event = ConfigSet(subject if isinstance(subject, str) else None, level)
                case _:
                    raise AssertionError(op)
        except RegistryError:
            continue
        if event is not None:
            state.apply(event)
            events.append(event)

    rebuilt = RegistryState()
    for event in events:
        rebuilt.apply(event)
    assert _snapshot(rebuilt) == _snapshot(state)
    # One id per canonical schema, whatever the subject.
    ids: dict[str, int] = {}
    for subject in state.subjects(deleted=True):
        for version in state.versions(subject, deleted=True):
            view = state.get_version(subject, version, deleted=True)
            assert ids.setdefault(view.schema, view.schema_id) == view.schema_id
