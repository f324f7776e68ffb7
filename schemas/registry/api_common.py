"""What every endpoint of the REST API shares: responses, query parameters, bodies, views."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from schemas.registry.avro_schema import AVRO
from schemas.registry.errors import (
    BadRequestError,
    InvalidSchemaError,
    InvalidSubjectError,
    OperationNotPermittedError,
)
from schemas.registry.guard import MEDIA_TYPE
from schemas.registry.limits import check_depth
from schemas.registry.references import Reference, parse_references
from schemas.registry.service import RegistryService
from schemas.registry.state import RegistryState, SubjectVersion, parse_version

_RESERVED_SUBJECTS = frozenset({"__GLOBAL", "__EMPTY"})


class RegistryResponse(JSONResponse):
    media_type = MEDIA_TYPE


def ok(content: Any) -> Response:
    return RegistryResponse(content)


def error(status: int, code: int, message: str) -> Response:
    return RegistryResponse({"error_code": code, "message": message}, status_code=status)


def raw_schema(text: str) -> Response:
    # The schema itself (it is JSON), not wrapped in an object, as Confluent's /schema does.
    return Response(text, media_type=MEDIA_TYPE)


class HandlerBase:
    """Endpoint functions bound to one service."""

    def __init__(self, service: RegistryService) -> None:
        self.service = service

    @property
    def state(self) -> RegistryState:
        return self.service.state


# ----------------------------------------------------------------------------- request helpers


def flag(request: Request, *names: str) -> bool:
    """A boolean query parameter; clients send true/True/1 (the Python client sends True)."""
    for name in names:
        value = request.query_params.get(name)
        if value is not None:
            return value.strip().lower() in {"true", "1", "yes"}
    return False


def int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequestError(
            f"query parameter {name!r} must be an integer, got {value!r}"
        ) from None


def page(items: list[Any], request: Request) -> list[Any]:
    """``offset`` and ``limit`` (-1 = no limit) applied to a listing."""
    offset, limit = int_param(request, "offset", 0), int_param(request, "limit", -1)
    items = items[max(offset, 0) :]
    return items if limit < 0 else items[:limit]


def subject(request: Request, *, checked: bool = False) -> str:
    """The subject path segment (percent-decoded, ``/`` included); ``checked`` refuses names
    no subject may have (42208), for the routes that create subjects."""
    name: str = request.path_params["subject"]
    if checked and (not name or name in _RESERVED_SUBJECTS or not name.isprintable()):
        raise InvalidSubjectError(name)
    return name


def version(request: Request) -> int:
    return parse_version(request.path_params["version"])


async def body(request: Request) -> dict[str, Any]:
    # The guard middleware has checked the Content-Type and capped the size already.
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"request body is not UTF-8: {exc}") from exc
    check_depth(text, "Invalid request: the request body")
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise BadRequestError(f"request body is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise BadRequestError("request body must be a JSON object")
    return parsed


@dataclass(frozen=True, slots=True)
class SchemaRequest:
    """The schema a request carries, not parsed yet (parsing needs the state's references)."""

    text: object
    references: tuple[Reference, ...]


def schema_request(content: dict[str, Any], *, registering: bool = False) -> SchemaRequest:
    """The schema fields of a request body; 42201 / 42205 for what this registry refuses."""
    schema_type = content.get("schemaType") or AVRO
    if not isinstance(schema_type, str) or schema_type.upper() != AVRO:
        raise InvalidSchemaError(
            f"Schema type {schema_type!r} is not supported: this registry stores AVRO schemas only"
        )
    if registering and content.get("id") is not None:
        raise OperationNotPermittedError(
            "Registering a schema with an explicit id needs IMPORT mode, which this registry "
            "does not offer"
        )
    return SchemaRequest(content.get("schema"), parse_references(content.get("references")))


def schema_text(request: SchemaRequest) -> str:
    if not isinstance(request.text, str):
        raise InvalidSchemaError("Invalid schema: the request must have a 'schema' string")
    return request.text


def references_json(references: tuple[Reference, ...]) -> list[dict[str, Any]]:
    return [ref.to_json() for ref in references]


def view(found: SubjectVersion) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "subject": found.subject,
        "version": found.version,
        "id": found.schema_id,
        "schema": found.schema,
    }
    # Confluent leaves schemaType out for AVRO, the default, and references out when empty;
    # clients assume AVRO and no references when absent.
    if found.schema_type != AVRO:
        shown["schemaType"] = found.schema_type
    if found.references:
        shown["references"] = references_json(found.references)
    return shown
