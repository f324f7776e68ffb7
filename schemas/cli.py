"""``vidsight schemas``: register the ``.avsc`` files with the registry, or check them first.

``register`` sets BACKWARD compatibility on every ``<topic>-value`` subject, checks every schema
against the subject's latest version and, only when all of them pass, registers them and
prints subject/version/id. ``check`` does the same checks without writing anything.
Exit codes: 0 ok, 1 a schema is incompatible (with a field diff and the registry's messages)
or the registry failed.

``register_all`` and ``check_all`` are the same operations for code (``vidsight demo``, tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import click
import httpx

from schemas import catalog
from schemas.errors import IncompatibleSchemaError, RegistryUnavailableError, SchemaError

DEFAULT_REGISTRY_URL = "http://127.0.0.1:8081"
COMPATIBILITY = "BACKWARD"
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True, slots=True)
class Latest:
    """The latest registered version of a subject."""

    version: int
    schema_id: int
    schema: str


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


class RegistryRest:
    """The few Confluent Schema Registry REST calls the CLI needs (over httpx)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            headers={"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE},
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        try:
            response = self._http.request(
                method, path, content=None if body is None else json.dumps(body)
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(
                f"schema registry {self.url} unreachable: {exc}"
            ) from exc
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = {"message": response.text}
        if response.status_code >= 500:
            raise RegistryUnavailableError(
                f"schema registry {self.url} failed on {method} {path}: "
                f"HTTP {response.status_code} {_message(payload)}"
            )
        return response.status_code, payload

    def _expect_ok(self, method: str, path: str, body: object = None) -> Any:
        status, payload = self._call(method, path, body)
        if status >= 300:
            raise SchemaError(f"{method} {path} on {self.url}: HTTP {status} {_message(payload)}")
        return payload

    def latest(self, subject: str) -> Latest | None:
        """The latest version of a subject, None when the subject does not exist."""
        status, payload = self._call("GET", f"/subjects/{_q(subject)}/versions/latest")
        if status == 404:
            return None
        if status >= 300:
            raise SchemaError(f"reading {subject}: HTTP {status} {_message(payload)}")
        return Latest(int(payload["version"]), int(payload["id"]), str(payload["schema"]))

    def compatibility(self, subject: str) -> str | None:
        """The compatibility level set on the subject itself, None when it has none."""
        status, payload = self._call("GET", f"/config/{_q(subject)}")
        if status == 404:
            return None
        if status >= 300:
            raise SchemaError(f"config of {subject}: HTTP {status} {_message(payload)}")
        return str(payload.get("compatibilityLevel") or payload.get("compatibility"))

    def set_compatibility(self, subject: str, level: str) -> None:
        """Set the subject's compatibility level."""
        self._expect_ok("PUT", f"/config/{_q(subject)}", {"compatibility": level})

    def check(self, subject: str, schema: str) -> tuple[bool, tuple[str, ...]]:
        """Whether the schema is compatible with the subject's latest version, and why not."""
        status, payload = self._call(
            "POST",
            f"/compatibility/subjects/{_q(subject)}/versions/latest?verbose=true",
            {"schema": schema},
        )
        if status == 404:  # no version yet: anything goes
            return True, ()
        if status == 422:  # invalid schema
            return False, (_message(payload),)
        if status >= 300:
            raise SchemaError(f"checking {subject}: HTTP {status} {_message(payload)}")
        messages = payload.get("messages") or ()
        return bool(payload["is_compatible"]), tuple(str(m) for m in messages)

    def lookup(self, subject: str, schema: str) -> tuple[int, int] | None:
        """(version, id) of the schema under the subject, None when it is not registered."""
        status, payload = self._call("POST", f"/subjects/{_q(subject)}", {"schema": schema})
        if status == 404:
            return None
        if status >= 300:
            raise SchemaError(f"looking up {subject}: HTTP {status} {_message(payload)}")
        return int(payload["version"]), int(payload["id"])

    def register(self, subject: str, schema: str) -> tuple[int, int]:
        """Register the schema under the subject (idempotent); (version, id)."""
        body = {"schema": schema}
        status, payload = self._call("POST", f"/subjects/{_q(subject)}/versions", body)
        if status in (409, 422):
            raise SchemaError(f"{subject} rejected the schema: {_message(payload)}")
        if status >= 300:
            raise SchemaError(f"registering {subject}: HTTP {status} {_message(payload)}")
        found = self.lookup(subject, schema)
        if found is None:
            raise SchemaError(f"{subject}: registered schema id {payload['id']} not found")
        return found


def _q(subject: str) -> str:
    return quote(subject, safe="")


def _message(payload: Any) -> str:
    if isinstance(payload, Mapping):
        return str(payload.get("message", payload))
    return str(payload)


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


# ------------------------------------------------------------------------------- the commands


def _check_all(rest: RegistryRest) -> list[CheckResult]:
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


def check_all(registry_url: str) -> list[CheckResult]:
    """Check every catalog schema against its subject's latest version; writes nothing."""
    rest = RegistryRest(registry_url)
    try:
        return _check_all(rest)
    finally:
        rest.close()


def register_all(registry_url: str) -> list[Registration]:
    """Set BACKWARD on every ``<topic>-value`` subject, check every schema, then register them.

    Nothing is registered when any schema is incompatible: IncompatibleSchemaError carries
    the readable report. Registering an unchanged schema is a no-op that returns its id.
    """
    rest = RegistryRest(registry_url)
    try:
        for subject, _ in catalog.subjects():
            rest.set_compatibility(subject, COMPATIBILITY)
        results = _check_all(rest)
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


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


registry_url_option = click.option(
    "--registry-url",
    envvar="VIDSIGHT_REGISTRY_URL",
    default=DEFAULT_REGISTRY_URL,
    show_default=True,
    help="Schema registry base URL (env VIDSIGHT_REGISTRY_URL).",
)


@click.group(name="schemas")
def schemas_group() -> None:
    """Avro schemas and the schema registry."""


@schemas_group.command()
@registry_url_option
def register(registry_url: str) -> None:
    """Register every .avsc under <topic>-value with BACKWARD compatibility."""
    try:
        done = register_all(registry_url)
    except IncompatibleSchemaError as exc:
        click.echo(str(exc), err=True)
        raise click.exceptions.Exit(1) from exc
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [("subject", "schema", "version", "id", "status")]
    for r in done:
        status = "registered" if r.changed else "unchanged"
        rows.append((r.subject, r.stem, str(r.version), str(r.schema_id), status))
    _table(rows)


@schemas_group.command()
@registry_url_option
def check(registry_url: str) -> None:
    """Check every .avsc against the registry without writing anything."""
    rest = RegistryRest(registry_url)
    try:
        results = _check_all(rest)
        rows = [("subject", "schema", "latest", "compatibility", "result")]
        for r in results:
            level = rest.compatibility(r.subject) or "(global)"
            latest = "-" if r.latest is None else f"v{r.latest.version} id {r.latest.schema_id}"
            if r.latest is None:
                result = "new subject"
            elif not r.compatible:
                result = "INCOMPATIBLE"
            elif rest.lookup(r.subject, catalog.schema_text(r.stem)) is not None:
                result = "unchanged"
            else:
                result = "compatible change"
            rows.append((r.subject, r.stem, latest, level, result))
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rest.close()
    _table(rows)
    report = incompatibility_report(results)
    if report:
        click.echo(report, err=True)
        raise click.exceptions.Exit(1)
