"""Every compatibility level, transitive ones included, as a subject sees them."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from schemas.registry.avro_schema import parse_avro
from schemas.registry.compatibility import Compatibility, compatibility_problems
from schemas.registry.errors import IncompatibleSchemaError, InvalidCompatibilityLevelError
from schemas.registry.events import ConfigSet
from schemas.registry.state import LATEST, RegistryState


def fields(*specs: Mapping[str, object]) -> str:
    return json.dumps({"type": "record", "name": "Event", "fields": list(specs)})


A = {"name": "a", "type": "string"}
B_DEFAULT = {"name": "b", "type": "int", "default": 1}
B_REQUIRED = {"name": "b", "type": "int"}

# Backward chain: v3 reads v2 data (b is there) but not v1 data (b missing, no default).
ONLY_A = fields(A)
A_B_DEFAULT = fields(A, B_DEFAULT)
A_B_REQUIRED = fields(A, B_REQUIRED)


def subject_with(level: Compatibility, *texts: str) -> RegistryState:
    state = RegistryState()
    state.apply(ConfigSet("s", level))
    for text in texts:
        registration = state.decide_register("s", parse_avro(text))
        assert registration.event is not None
        state.apply(registration.event)
    return state


def accepts(state: RegistryState, text: str) -> bool:
    try:
        state.decide_register("s", parse_avro(text))
    except IncompatibleSchemaError:
        return False
    return True


@pytest.mark.parametrize(
    ("level", "history", "candidate", "expected"),
    [
        # NONE: anything goes.
        (Compatibility.NONE, [ONLY_A], fields({"name": "z", "type": "long"}), True),
        # BACKWARD: adding a field needs a default; removing a field is fine.
        (Compatibility.BACKWARD, [ONLY_A], A_B_DEFAULT, True),
        (Compatibility.BACKWARD, [ONLY_A], A_B_REQUIRED, False),
        (Compatibility.BACKWARD, [A_B_REQUIRED], ONLY_A, True),
        # Type promotion int -> long reads old data; long -> int does not.
        (
            Compatibility.BACKWARD,
            [fields({"name": "n", "type": "int"})],
            fields({"name": "n", "type": "long"}),
            True,
        ),
        (
            Compatibility.BACKWARD,
            [fields({"name": "n", "type": "long"})],
            fields({"name": "n", "type": "int"}),
            False,
        ),
        # FORWARD: old readers must cope with new data: removing a field needs an old default.
        (Compatibility.FORWARD, [A_B_REQUIRED], ONLY_A, False),
        (Compatibility.FORWARD, [A_B_DEFAULT], ONLY_A, True),
        (Compatibility.FORWARD, [ONLY_A], A_B_REQUIRED, True),
        # FULL: both directions.
        (Compatibility.FULL, [ONLY_A], A_B_DEFAULT, True),
        (Compatibility.FULL, [ONLY_A], A_B_REQUIRED, False),
        (Compatibility.FULL, [A_B_REQUIRED], ONLY_A, False),
        # Non-transitive levels only look at the latest version ...
        (Compatibility.BACKWARD, [ONLY_A, A_B_DEFAULT], A_B_REQUIRED, True),
        (Compatibility.FULL, [ONLY_A, A_B_DEFAULT], A_B_REQUIRED, True),
        # ... transitive ones at every live version.
        (Compatibility.BACKWARD_TRANSITIVE, [ONLY_A, A_B_DEFAULT], A_B_REQUIRED, False),
        (Compatibility.FULL_TRANSITIVE, [ONLY_A, A_B_DEFAULT], A_B_REQUIRED, False),
        (
            Compatibility.BACKWARD_TRANSITIVE,
            [ONLY_A, A_B_DEFAULT],
            fields(A, B_DEFAULT, {"name": "c", "type": "string", "default": ""}),
            True,
        ),
        # Forward chain: v3 drops b; v2 (b has a default) can read that, v1 (b required) cannot.
        (Compatibility.FORWARD, [A_B_REQUIRED, A_B_DEFAULT], ONLY_A, True),
        (Compatibility.FORWARD_TRANSITIVE, [A_B_REQUIRED, A_B_DEFAULT], ONLY_A, False),
    ],
)
def test_levels(level: Compatibility, history: list[str], candidate: str, expected: bool) -> None:
    assert accepts(subject_with(level, *history), candidate) is expected


def test_transitive_check_skips_soft_deleted_versions() -> None:
    state = subject_with(Compatibility.BACKWARD_TRANSITIVE, ONLY_A, A_B_DEFAULT)
    _, event = state.decide_delete_version("s", 1, permanent=False)
    state.apply(event)
    assert accepts(state, A_B_REQUIRED)


def test_the_first_version_is_always_accepted() -> None:
    for level in Compatibility:
        assert accepts(subject_with(level), ONLY_A)


def test_messages_name_the_problem_the_version_and_the_level() -> None:
    problems = compatibility_problems(
        Compatibility.BACKWARD, parse_avro(A_B_REQUIRED), [(4, parse_avro(ONLY_A))]
    )
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in problems[0]
    assert "/fields/1" in problems[0]
    assert "{oldSchemaVersion: 4}" in problems
    assert "{compatibility: 'BACKWARD'}" in problems


def test_incompatible_registration_error_lists_the_details() -> None:
    state = subject_with(Compatibility.BACKWARD, ONLY_A)
    with pytest.raises(IncompatibleSchemaError) as err:
        state.decide_register("s", parse_avro(A_B_REQUIRED))
    assert 'for subject "s"' in err.value.message
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in d for d in err.value.details)


def test_check_against_one_version_latest_and_all() -> None:
    state = subject_with(Compatibility.BACKWARD, ONLY_A, A_B_DEFAULT)
    candidate = parse_avro(A_B_REQUIRED)
    assert state.check("s", candidate, 2) == []
    assert state.check("s", candidate, LATEST) == []
    assert state.check("s", candidate, 1) != []
    assert state.check("s", candidate, None) == []  # non-transitive: latest only
    state.apply(ConfigSet("s", Compatibility.BACKWARD_TRANSITIVE))
    assert state.check("s", candidate, None) != []


def test_check_against_latest_of_an_empty_subject_passes() -> None:
    assert RegistryState().check("nobody", parse_avro(ONLY_A), LATEST) == []


@pytest.mark.parametrize("text", ["backward", "Full_Transitive", " NONE "])
def test_level_names_are_case_insensitive(text: str) -> None:
    assert Compatibility.parse(text).value == text.strip().upper()


@pytest.mark.parametrize("value", ["SIDEWAYS", "", None, 3])
def test_unknown_level_is_42203(value: object) -> None:
    with pytest.raises(InvalidCompatibilityLevelError) as err:
        Compatibility.parse(value)
    assert err.value.error_code == 42203
    assert "BACKWARD_TRANSITIVE" in err.value.message
