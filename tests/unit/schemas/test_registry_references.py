"""The order referenced schemas are parsed in, and how references are read and pinned."""

from __future__ import annotations

import pytest

from schemas.registry.errors import InvalidSchemaError
from schemas.registry.references import (
    Reference,
    ReferencedSchema,
    dependencies,
    parse_references,
    pin,
)


def ref(subject: str) -> Reference:
    return Reference(f"n.{subject}", subject, 1)


def test_each_schema_comes_after_what_it_needs_and_only_once() -> None:
    # top -> a, b; a -> c; b -> c (a diamond): c first, once.
    graph = {"a": [ref("c")], "b": [ref("c")], "c": []}
    order = dependencies(
        [ref("a"), ref("b")], lambda r: ReferencedSchema(r.subject, tuple(graph[r.subject]))
    )
    assert order == ["c", "a", "b"]


def test_a_cycle_is_refused() -> None:
    graph = {"a": [ref("b")], "b": [ref("a")]}
    with pytest.raises(InvalidSchemaError, match="cycle"):
        dependencies([ref("a")], lambda r: ReferencedSchema(r.subject, tuple(graph[r.subject])))


def test_references_of_a_request() -> None:
    assert parse_references(None) == ()
    assert parse_references([{"name": "x", "subject": "s", "version": 2}]) == (
        Reference("x", "s", 2),
    )
    for bad in ("x", [1], [{"name": "x", "subject": "s", "version": 0}], [{"subject": "s"}]):
        with pytest.raises(InvalidSchemaError):
            parse_references(bad)


def test_latest_is_pinned_and_missing_versions_are_refused() -> None:
    assert pin(Reference("x", "s", -1), [1, 3], [1, 2, 3]) == Reference("x", "s", 3)
    assert pin(Reference("x", "s", 2), [1, 3], [1, 2, 3]) == Reference("x", "s", 2)
    with pytest.raises(InvalidSchemaError, match="does not exist"):
        pin(Reference("x", "s", 4), [1], [1])
    with pytest.raises(InvalidSchemaError):
        pin(Reference("x", "s", -1), [], [])
