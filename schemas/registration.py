"""Register the catalog's ``.avsc`` files with the schema registry, or check them first.

``register_all`` sets BACKWARD compatibility on every ``<topic>-value`` subject, checks every
schema against the subject's latest version and, only when all of them pass, registers them.
``check_all`` does the same checks without writing anything; ``incompatibility_report`` and
``schema_diff`` say what changed, field by field. ``vidsight schemas``, the demo and the tests
use these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import catalog
from schemas.errors import IncompatibleSchemaError
from schemas.registry_access import Latest, RegistryRest, RegistryTarget

COMPATIBILITY = "BACKWARD"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of checking one schema against its subject."""

    subject: str
    stem: str
    latest: Latest | None
    compatible: bool
    messages: tuple[str, ...]  # the registry's, when incompatible


@dataclass(frozen=True, slots=True)
class Registration:
    """One subject after ``register_all``."""

    subject: str
    stem: str
    version: int
    schema_id: int
    changed: bool  # False when the schema was already the registered one


# ---------------------------------------------------------------------------- the field diff


def _type_name(node: Any) -> str:
    """A short readable form of an Avro type: ``null|string``, ``array<BBox>``, ``long(ts)``."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "|".join(_type_name(branch) for branch in node)
    kind = node.get("type")
    if kind == "array":
        return f"array<{_type_name(node['items'])}>"
    if kind == "map":
        return f"map<{_type_name(node['values'])}>"
    if kind in ("record", "enum", "fixed"):
        return str(node["name"])
    logical = node.get("logicalType")
    return f"{_type_name(kind)}({logical})" if logical else _type_name(kind)


def _records(node: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every record (and enum) definition reachable from ``node``, keyed by field path."""
    if isinstance(node, list):
        for branch in node:
            yield from _records(branch, path)
    elif isinstance(node, Mapping):
        kind = node.get("type")
        if kind in ("record", "enum"):
            yield path, node
            if kind == "record":
                for f in node.get("fields", ()):
                    yield from _records(f["type"], f"{path}{f['name']}.")
        elif kind == "array":
            yield from _records(node["items"], path.rstrip(".") + "[].")
        elif kind == "map":
            yield from _records(node["values"], path.rstrip(".") + "{}.")


def schema_diff(old_text: str, new_text: str) -> list[str]:
    """Readable differences between two Avro schemas: fields and enum symbols added, removed
    or changed, one line each, by dotted path (``objects[].bbox.x1``)."""
    old = dict(_records(json.loads(old_text), ""))
    new = dict(_records(json.loads(new_text), ""))
    lines: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before is None or after is None:
            continue  # the field holding it shows up as added/removed/changed below
        if after.get("type") == "enum" and before.get("type") == "enum":
            gone = [s for s in before["symbols"] if s not in after["symbols"]]
            came = [s for s in after["symbols"] if s not in before["symbols"]]
            where = path.rstrip(".") or after["name"]
            lines += [f"- removed symbol {where}: {s}" for s in gone]
            lines += [f"+ added   symbol {where}: {s}" for s in came]
            continue
        if after.get("type") != "record" or before.get("type") != "record":
            continue
        old_fields = {f["name"]: f for f in before["fields"]}
        new_fields = {f["name"]: f for f in after["fields"]}
        for name, f in new_fields.items():
            if name not in old_fields:
                default = "with default" if "default" in f else "NO default"
                lines.append(f"+ added   {path}{name}: {_type_name(f['type'])} ({default})")
        for name, f in old_fields.items():
            if name not in new_fields:
                lines.append(f"- removed {path}{name}: {_type_name(f['type'])}")
            elif _type_name(f["type"]) != _type_name(new_fields[name]["type"]):
                was, now = _type_name(f["type"]), _type_name(new_fields[name]["type"])
                lines.append(f"~ changed {path}{name}: {was} -> {now}")
            elif ("default" in f) != ("default" in new_fields[name]):
                change = "added" if "default" in new_fields[name] else "removed"
                lines.append(f"~ changed {path}{name}: default {change}")
    return lines


def check_with(rest: RegistryRest) -> list[CheckResult]:
    """Check every catalog schema through an open registry client; writes nothing."""
    results = []
    for subject, stem in catalog.subjects():
        latest = rest.latest(subject)
        ok, messages = (
            (True, ()) if latest is None else rest.check(subject, catalog.schema_text(stem))
        )
        results.append(CheckResult(subject, stem, latest, ok, messages))
    return results


def incompatibility_report(results: Sequence[CheckResult]) -> str:
    """For each incompatible schema: the field diff against the registered latest version and
    the registry's messages; empty when everything is compatible."""
    lines = []
    for r in results:
        if r.compatible or r.latest is None:
            continue
        lines.append(
            f"{r.subject}: {r.stem}.avsc is NOT {COMPATIBILITY}-compatible with the "
            f"registered version {r.latest.version} (id {r.latest.schema_id})"
        )
        diff = schema_diff(r.latest.schema, catalog.schema_text(r.stem)) or ["(no diff)"]
        lines += [f"    {line}" for line in diff]
        lines += [f"    registry: {message}" for message in _readable(r.messages)]
    return "\n".join(lines)


def check_all(registry: RegistryTarget) -> list[CheckResult]:
    """Check every catalog schema against its subject's latest version; writes nothing."""
    rest = RegistryRest(registry)
    try:
        return check_with(rest)
    finally:
        rest.close()


def register_all(registry: RegistryTarget) -> list[Registration]:
    """Set BACKWARD on every ``<topic>-value`` subject, check every schema, then register them.

    Nothing is registered when any schema is incompatible: IncompatibleSchemaError carries
    the readable report. Registering an unchanged schema is a no-op that returns its id.
    """
    rest = RegistryRest(registry)
    try:
        for subject, _ in catalog.subjects():
            rest.set_compatibility(subject, COMPATIBILITY)
        results = check_with(rest)
        report = incompatibility_report(results)
        if report:
            raise IncompatibleSchemaError(f"{report}\nnothing registered")
        done = []
        for r in results:
            version, schema_id = rest.register(r.subject, catalog.schema_text(r.stem))
            changed = r.latest is None or r.latest.schema_id != schema_id
            done.append(Registration(r.subject, r.stem, version, schema_id, changed))
        return done
    finally:
        rest.close()


_MAX_MESSAGE = 300


def _readable(messages: tuple[str, ...]) -> list[str]:
    """The registry's messages without the schema dumps some of them carry."""
    out = []
    for raw in messages:
        if raw.startswith("{oldSchema:"):
            continue  # the whole registered schema; the diff above already says what changed
        cut = raw.find(", reader:{")  # some registries append both full schemas
        short = raw[:cut] if cut > 0 else raw
        out.append(short if len(short) <= _MAX_MESSAGE else short[:_MAX_MESSAGE] + "...")
    return out
