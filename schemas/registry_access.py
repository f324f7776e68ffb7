"""How the project's clients reach the schema registry: URL plus, when set, basic auth.

Every client is built from the settings (``Endpoints.registry_client_config()`` for
confluent-kafka, ``Endpoints.registry_auth()`` for httpx), so a registry with authentication
works for all of them; a bare URL stays accepted for a registry without auth (tools, tests).
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, cast
from urllib.parse import quote

import httpx
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from schemas.errors import (
    IncompatibleSchemaError,
    RegistryAuthError,
    RegistryUnavailableError,
    SchemaError,
    SerializationError,
)
from vidsight.settings import Endpoints

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_OUTAGE = (408, 429)  # request timeout, too many requests: wait and retry, like a 5xx


def _transport_errors() -> tuple[type[Exception], ...]:
    """httpx's transport errors, and httpx2's: confluent-kafka's client uses that fork when it
    is installed (its ``_httpx_compat``)."""
    errors: list[type[Exception]] = [httpx.TransportError]
    with contextlib.suppress(ImportError):
        errors.append(importlib.import_module("httpx2").TransportError)
    return tuple(errors)


_TRANSPORT_ERRORS = _transport_errors()
"""Refused, reset, timed out: the registry is not answering (after the client's retries)."""

RegistryTarget: TypeAlias = Endpoints | str
"""Where the registry is: the settings (URL and basic-auth credentials), or a bare URL for a
registry without auth (tools, tests)."""


def registry_client(registry: RegistryTarget, **options: Any) -> SchemaRegistryClient:
    """confluent-kafka's client for ``registry``, with its basic auth when the settings have it;
    ``options`` are extra client settings (``timeout``, ``max.retries``)."""
    conf = (
        registry.registry_client_config() if isinstance(registry, Endpoints) else {"url": registry}
    )
    return SchemaRegistryClient({**conf, **options})


def registry_url(registry: RegistryTarget) -> str:
    """The base URL of ``registry`` (for messages: it never holds credentials)."""
    return registry.registry_url if isinstance(registry, Endpoints) else registry


class RegistryResolver:
    """A resolver backed by a Confluent-compatible schema registry (client-side cached).

    ``auto_register`` registers the current schema on first use, which is convenient locally;
    in production run ``vidsight schemas register`` at deploy time and pass False, so a
    process only looks its schema up and fails fast when it was not registered.
    """

    def __init__(
        self,
        registry: RegistryTarget,
        *,
        auto_register: bool = True,
        client: SchemaRegistryClient | None = None,
    ) -> None:
        self.url = registry_url(registry)
        self.auto_register = auto_register
        self._client = client if client is not None else registry_client(registry)

    def close(self) -> None:
        """Close the HTTP session of the client."""
        self._client.close()

    def __enter__(self) -> RegistryResolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text of a global id."""
        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:  # the message names an id: bad data, not a bug
                raise SerializationError(f"unknown schema id {schema_id}") from exc
            raise self._failed(exc, f"schema id {schema_id}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._unavailable(exc) from exc
        if (schema.schema_type or "AVRO") != "AVRO" or schema.schema_str is None:
            raise SerializationError(f"schema id {schema_id} is {schema.schema_type}, not AVRO")
        return str(schema.schema_str)

    def id_for(self, subject: str, schema_text: str) -> int:
        """Register (auto_register) or look up the schema under the subject."""
        schema = Schema(schema_text, "AVRO")
        try:
            if self.auto_register:
                return int(self._client.register_schema(subject, schema))
            registered = self._client.lookup_schema(subject, schema)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise SchemaError(
                    f"schema not registered under {subject} at {self.url}: "
                    "run `vidsight schemas register`"
                ) from exc
            if exc.http_status_code in (409, 422):
                raise IncompatibleSchemaError(
                    f"{subject} at {self.url} rejects this schema: {exc.error_message}"
                ) from exc
            raise self._failed(exc, subject) from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._unavailable(exc) from exc
        return int(cast(int, registered.schema_id))

    def _failed(self, exc: SchemaRegistryError, what: str) -> SchemaError:
        # Only an outage is waited out. Refused credentials are a configuration error:
        # waiting them out would hang every process silently, and dead-lettering would drop
        # good records; any other refusal (4xx) is a request the registry will never take.
        status = exc.http_status_code
        if status in _OUTAGE or status >= 500:
            return self._unavailable(exc)
        if status in (401, 403):
            return RegistryAuthError(
                f"schema registry {self.url} refused the request for {what} (HTTP {status}): "
                "check registry_user and registry_password"
            )
        return SchemaError(
            f"schema registry {self.url} refused the request for {what}: HTTP {status} "
            f"{exc.error_message}"
        )

    def _unavailable(self, exc: Exception) -> RegistryUnavailableError:
        return RegistryUnavailableError(f"schema registry {self.url} failed: {exc}")


@dataclass(frozen=True, slots=True)
class Latest:
    """The latest registered version of a subject."""

    version: int
    schema_id: int
    schema: str


class RegistryRest:
    """The few Confluent Schema Registry REST calls the CLI needs (over httpx)."""

    def __init__(self, registry: RegistryTarget, *, timeout_s: float = 10.0) -> None:
        self.url = registry_url(registry).rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            headers={"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE},
            auth=registry.registry_auth() if isinstance(registry, Endpoints) else None,
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
        if response.status_code in (401, 403):
            raise RegistryAuthError(
                f"schema registry {self.url} refused {method} {path}: "
                f"HTTP {response.status_code} {_message(payload)} "
                "(check registry_user and registry_password)"
            )
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
