"""Typed records and .avsc files cannot drift: names, order, nullability, enums, defaults."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import pytest

from schemas.catalog import schema_dict, schema_stems
from schemas.records import RECORD_TYPES, OptionValue

_PRIMITIVES: dict[str, type] = {
    "string": str,
    "long": int,
    "int": int,
    "double": float,
    "float": float,
    "boolean": bool,
}


def _is_optional(hint: Any) -> tuple[bool, Any]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return True, rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
    return False, hint


def _check(hint: Any, avro: Any, path: str, named: dict[str, Any]) -> None:
    """Assert that the Python type hint matches the Avro type at path."""
    if isinstance(avro, str) and avro not in _PRIMITIVES:
        avro = named[avro]  # a reference to a named type defined earlier
    if isinstance(avro, list):
        assert avro[0] == "null" and len(avro) == 2, f"{path}: unions are ['null', T]"
        optional, inner = _is_optional(hint)
        assert optional, f"{path}: Avro field is nullable, the record field is not Optional"
        _check(inner, avro[1], path, named)
        return
    optional, _ = _is_optional(hint)
    assert not optional or hint is OptionValue, f"{path}: Optional but Avro is not nullable"
    if isinstance(avro, str):
        assert hint is _PRIMITIVES[avro], f"{path}: {hint} is not Avro {avro}"
        return
    kind = avro["type"]
    if kind in _PRIMITIVES:  # logical types: timestamp-micros on long, uuid on string
        assert hint is _PRIMITIVES[kind], f"{path}: {hint} is not Avro {kind}"
        return
    if kind == "enum":
        named[avro["name"]] = avro
        assert isinstance(hint, type) and issubclass(hint, enum.StrEnum), path
        assert hint.__name__ == avro["name"], path
        assert [m.value for m in hint] == avro["symbols"], f"{path}: enum symbols differ"
        assert avro.get("default") in avro["symbols"], f"{path}: enum needs a default symbol"
        return
    if kind == "record":
        named[avro["name"]] = avro
        _check_record(hint, avro, path, named)
        return
    if kind == "array":
        assert typing.get_origin(hint) is tuple, f"{path}: arrays are tuples"
        item, ellipsis = typing.get_args(hint)
        assert ellipsis is Ellipsis, path
        _check(item, avro["items"], f"{path}[]", named)
        return
    if kind == "map":
        assert typing.get_origin(hint) is Mapping, f"{path}: maps are Mapping"
        key, value = typing.get_args(hint)
        assert key is str
        assert value is OptionValue, f"{path}: only detector options are maps"
        assert avro["values"] == [
            "null",
            "boolean",
            "long",
            "double",
            "string",
            {"type": "array", "items": "string"},
        ]
        return
    raise AssertionError(f"{path}: unexpected Avro type {kind}")


def _avro_default(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_record(hint: Any, avro: Mapping[str, Any], path: str, named: dict[str, Any]) -> None:
    assert dataclasses.is_dataclass(hint), f"{path}: {hint} is not a dataclass"
    cls: Any = hint
    params = cls.__dataclass_params__
    assert params.frozen, f"{cls.__name__} must be frozen"
    assert hasattr(cls, "__slots__"), f"{cls.__name__} must be slotted"
    assert cls.__name__ == avro["name"], f"{path}: class {cls.__name__} vs {avro['name']}"
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    assert [f.name for f in fields] == [f["name"] for f in avro["fields"]], (
        f"{cls.__name__}: field names/order differ from {avro['name']}.avsc"
    )
    for field, avro_field in zip(fields, avro["fields"], strict=True):
        where = f"{path}.{field.name}" if path else field.name
        _check(hints[field.name], avro_field["type"], where, named)
        has_default = (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        )
        if "default" in avro_field:
            assert has_default, f"{where}: Avro has a default, the record field has none"
            default = (
                field.default
                if field.default_factory is dataclasses.MISSING
                else field.default_factory()
            )
            expected = _avro_default(avro_field["default"])
            if isinstance(default, Mapping):
                default = dict(default)
            assert default == expected, f"{where}: default {default!r} != Avro {expected!r}"
        else:
            assert not has_default, f"{where}: record has a default, the Avro field has none"


@pytest.mark.parametrize("stem", sorted(RECORD_TYPES))
def test_record_class_matches_its_avsc(stem: str) -> None:
    _check_record(RECORD_TYPES[stem], schema_dict(stem), "", {})


def test_every_avsc_has_a_record_class() -> None:
    assert set(schema_stems()) == set(RECORD_TYPES)


def test_record_schema_names_match_stems() -> None:
    for stem, cls in RECORD_TYPES.items():
        assert cls.SCHEMA == stem == schema_dict(stem)["name"]


def test_checker_catches_drift() -> None:
    """The checker itself fails on a renamed field, a lost Optional and a missing symbol."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: float
        z: float

    avro = {"type": "record", "name": "Point", "fields": [
        {"name": "x", "type": "double"}, {"name": "y", "type": "double"}]}  # fmt: skip
    with pytest.raises(AssertionError, match="names/order"):
        _check_record(Point, avro, "", {})

    @dataclasses.dataclass(frozen=True, slots=True)
    class Box:
        x: float

    nullable = {"type": "record", "name": "Box", "fields": [
        {"name": "x", "type": ["null", "double"], "default": None}]}  # fmt: skip
    with pytest.raises(AssertionError, match="nullable"):
        _check_record(Box, nullable, "", {})

    class Kind(enum.StrEnum):
        A = "a"
        UNKNOWN = "unknown"

    symbols = {
        "type": "enum",
        "name": "Kind",
        "symbols": ["a", "b", "unknown"],
        "default": "unknown",
    }
    with pytest.raises(AssertionError, match="symbols"):
        _check(Kind, symbols, "kind", {})
