"""The Confluent Schema Registry REST API over a RegistryService (starlette).

The subset that the confluent-kafka serializers and the common tools use; see the package
docstring for the endpoint list. Responses are ``application/vnd.schemaregistry.v1+json``;
errors are ``{"error_code": N, "message": "..."}`` with Confluent's codes and statuses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas.registry.avro_schema import AVRO, AvroSchema, parse_avro
from schemas.registry.compatibility import Compatibility
from schemas.registry.errors import (
    BadRequestError,
    InvalidModeError,
    InvalidSchemaError,
    InvalidSubjectError,
    OperationNotPermittedError,
    RegistryError,
)
from schemas.registry.guard import HEALTH_PATH, MEDIA_TYPE, GuardPolicy, RequestGuard
from schemas.registry.limits import check_depth
from schemas.registry.metrics import ResponseCounter
from schemas.registry.service import RegistryService
from schemas.registry.state import RegistryState, SubjectVersion, parse_version

log = logging.getLogger(__name__)

MODE = "READWRITE"
_RESERVED_SUBJECTS = frozenset({"__GLOBAL", "__EMPTY"})


class RegistryResponse(JSONResponse):
    media_type = MEDIA_TYPE


def _ok(content: Any) -> Response:
    return RegistryResponse(content)


def _error(status: int, code: int, message: str) -> Response:
    return RegistryResponse({"error_code": code, "message": message}, status_code=status)


# ----------------------------------------------------------------------------- request helpers


def _flag(request: Request, *names: str) -> bool:
    """A boolean query parameter; clients send true/True/1 (the Python client sends True)."""
    for name in names:
        value = request.query_params.get(name)
        if value is not None:
            return value.strip().lower() in {"true", "1", "yes"}
    return False


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequestError(
            f"query parameter {name!r} must be an integer, got {value!r}"
        ) from None


def _subject(request: Request) -> str:
    subject: str = request.path_params["subject"]
    if not subject or subject in _RESERVED_SUBJECTS or not subject.isprintable():
        raise InvalidSubjectError(subject)
    return subject


def _version(request: Request) -> int:
    return parse_version(request.path_params["version"])


async def _body(request: Request) -> dict[str, Any]:
    # The guard middleware has checked the Content-Type and capped the size already.
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"request body is not UTF-8: {exc}") from exc
    check_depth(text, "Invalid request: the request body")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadRequestError(f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequestError("request body must be a JSON object")
    return body


async def _schema(request: Request, *, registering: bool = False) -> AvroSchema:
    body = await _body(request)
    schema_type = body.get("schemaType") or AVRO
    if not isinstance(schema_type, str) or schema_type.upper() != AVRO:
        raise InvalidSchemaError(
            f"Schema type {schema_type!r} is not supported: this registry stores AVRO schemas only"
        )
    if body.get("references"):
        raise InvalidSchemaError(
            "Schema references are not supported by this registry; inline the referenced "
            "named types in the schema"
        )
    if registering and body.get("id") is not None:
        raise OperationNotPermittedError(
            "Registering a schema with an explicit id needs IMPORT mode, which this registry "
            "does not offer"
        )
    text = body.get("schema")
    if not isinstance(text, str):
        raise InvalidSchemaError("Invalid schema: the request must have a 'schema' string")
    return parse_avro(text)


def _view(version: SubjectVersion) -> dict[str, Any]:
    view: dict[str, Any] = {
        "subject": version.subject,
        "version": version.version,
        "id": version.schema_id,
        "schema": version.schema,
    }
    # Confluent leaves schemaType out for AVRO, the default; clients assume AVRO when absent.
    if version.schema_type != AVRO:
        view["schemaType"] = version.schema_type
    return view


def _raw_schema(text: str) -> Response:
    # The schema itself (it is JSON), not wrapped in an object, as Confluent's /schema does.
    return Response(text, media_type=MEDIA_TYPE)


# ------------------------------------------------------------------------------------ handlers


class Handlers:
    """Endpoint functions bound to one service."""

    def __init__(self, service: RegistryService) -> None:
        self.service = service

    @property
    def state(self) -> RegistryState:
        return self.service.state

    async def root(self, request: Request) -> Response:
        return _ok({})

    async def health(self, request: Request) -> Response:
        # The one route open without credentials (stack probes): it says nothing but "up".
        return _ok({"status": "UP"})

    async def list_subjects(self, request: Request) -> Response:
        names = self.state.subjects(
            deleted=_flag(request, "deleted"),
            deleted_only=_flag(request, "deleted_only", "deletedOnly"),
        )
        prefix = request.query_params.get("subjectPrefix", "")
        names = [name for name in names if name.startswith(prefix)]
        offset, limit = _int_param(request, "offset", 0), _int_param(request, "limit", -1)
        names = names[max(offset, 0) :]
        return _ok(names if limit < 0 else names[:limit])

    async def list_versions(self, request: Request) -> Response:
        return _ok(
            self.state.versions(request.path_params["subject"], deleted=_flag(request, "deleted"))
        )

    async def register(self, request: Request) -> Response:
        subject = _subject(request)
        # normalize=true is accepted: every schema is normalised to its canonical text anyway.
        schema = await _schema(request, registering=True)
        registration = await self.service.register(subject, schema)
        return _ok({"id": registration.schema_id})

    async def get_version(self, request: Request) -> Response:
        version = self.state.get_version(
            request.path_params["subject"], _version(request), deleted=_flag(request, "deleted")
        )
        return _ok(_view(version))

    async def get_version_schema(self, request: Request) -> Response:
        version = self.state.get_version(
            request.path_params["subject"], _version(request), deleted=_flag(request, "deleted")
        )
        return _raw_schema(version.schema)

    async def referenced_by(self, request: Request) -> Response:
        self.state.get_version(request.path_params["subject"], _version(request))
        return _ok([])  # references are not supported, so nothing refers to anything

    async def lookup(self, request: Request) -> Response:
        schema = await _schema(request)
        found = self.state.lookup(
            request.path_params["subject"], schema, deleted=_flag(request, "deleted")
        )
        return _ok(_view(found))

    async def delete_subject(self, request: Request) -> Response:
        versions = await self.service.delete_subject(
            request.path_params["subject"], permanent=_flag(request, "permanent")
        )
        return _ok(versions)

    async def delete_version(self, request: Request) -> Response:
        version = await self.service.delete_version(
            request.path_params["subject"], _version(request), permanent=_flag(request, "permanent")
        )
        return _ok(version)

    async def schema_by_id(self, request: Request) -> Response:
        stored = self.state.schema(request.path_params["schema_id"])
        body: dict[str, Any] = {"schema": stored.schema}
        if stored.schema_type != AVRO:
            body["schemaType"] = stored.schema_type
        if _flag(request, "fetchMaxId"):
            body["maxId"] = self.state.max_schema_id
        # ?subject= only selects a context in Confluent; ids are global here, so it is ignored.
        return _ok(body)

    async def schema_by_id_raw(self, request: Request) -> Response:
        return _raw_schema(self.state.schema(request.path_params["schema_id"]).schema)

    def _id_versions(self, request: Request) -> list[tuple[str, int]]:
        schema_id = request.path_params["schema_id"]
        self.state.schema(schema_id)  # 40403 for an unknown id
        pairs = self.state.schema_versions(schema_id, deleted=_flag(request, "deleted"))
        subject = request.query_params.get("subject")
        return [pair for pair in pairs if subject is None or pair[0] == subject]

    async def schema_versions(self, request: Request) -> Response:
        pairs = self._id_versions(request)
        return _ok([{"subject": subject, "version": version} for subject, version in pairs])

    async def schema_subjects(self, request: Request) -> Response:
        return _ok(sorted({subject for subject, _ in self._id_versions(request)}))

    async def schema_types(self, request: Request) -> Response:
        return _ok([AVRO])

    async def check_compatibility(self, request: Request) -> Response:
        version = _version(request) if "version" in request.path_params else None
        schema = await _schema(request)
        problems = self.state.check(request.path_params["subject"], schema, version)
        body: dict[str, Any] = {"is_compatible": not problems}
        if _flag(request, "verbose"):
            body["messages"] = problems
        return _ok(body)

    async def get_config(self, request: Request) -> Response:
        subject = request.path_params.get("subject")
        if subject is None:
            level = self.state.compatibility()
        else:
            level = self.state.subject_compatibility(
                subject, default_to_global=_flag(request, "defaultToGlobal")
            )
        return _ok({"compatibilityLevel": level.value})

    async def put_config(self, request: Request) -> Response:
        body = await _body(request)
        level = Compatibility.parse(body.get("compatibility", body.get("compatibilityLevel")))
        level = await self.service.set_config(request.path_params.get("subject"), level)
        return _ok({"compatibility": level.value})

    async def delete_config(self, request: Request) -> Response:
        previous = await self.service.delete_config(request.path_params.get("subject"))
        return _ok({"compatibilityLevel": previous.value})

    async def get_mode(self, request: Request) -> Response:
        return _ok({"mode": MODE})

    async def metrics(self, request: Request) -> Response:
        body, content_type = self.service.metrics.render()
        return Response(body, media_type=content_type)

    async def put_mode(self, request: Request) -> Response:
        mode = (await _body(request)).get("mode")
        if not isinstance(mode, str) or mode.upper() != MODE:
            raise InvalidModeError(f"Invalid mode {mode!r}: this registry supports {MODE} only")
        return _ok({"mode": MODE})


# --------------------------------------------------------------------------------- the factory


async def _registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    if exc.http_status >= 500:
        log.error(
            "request failed method=%s path=%s error=%s", request.method, request.url.path, exc
        )
    return _error(exc.http_status, exc.error_code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.status_code, exc.detail)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("request crashed method=%s path=%s", request.method, request.url.path)
    return _error(500, 500, f"Internal server error: {type(exc).__name__}")


def routes(handlers: Handlers) -> list[Route]:
    h = handlers
    subject = "/subjects/{subject}"
    version = subject + "/versions/{version}"
    schema_id = "/schemas/ids/{schema_id:int}"
    return [
        Route("/", h.root, methods=["GET"]),
        Route(HEALTH_PATH, h.health, methods=["GET"]),
        Route("/subjects", h.list_subjects, methods=["GET"]),
        Route(subject, h.lookup, methods=["POST"]),
        Route(subject, h.delete_subject, methods=["DELETE"]),
        Route(subject + "/versions", h.list_versions, methods=["GET"]),
        Route(subject + "/versions", h.register, methods=["POST"]),
        Route(version, h.get_version, methods=["GET"]),
        Route(version, h.delete_version, methods=["DELETE"]),
        Route(version + "/schema", h.get_version_schema, methods=["GET"]),
        Route(version + "/referencedby", h.referenced_by, methods=["GET"]),
        Route(schema_id, h.schema_by_id, methods=["GET"]),
        Route(schema_id + "/schema", h.schema_by_id_raw, methods=["GET"]),
        Route(schema_id + "/versions", h.schema_versions, methods=["GET"]),
        Route(schema_id + "/subjects", h.schema_subjects, methods=["GET"]),
        Route("/schemas/types", h.schema_types, methods=["GET"]),
        Route("/compatibility" + version, h.check_compatibility, methods=["POST"]),
        Route("/compatibility" + subject + "/versions", h.check_compatibility, methods=["POST"]),
        Route("/config", h.get_config, methods=["GET"]),
        Route("/config", h.put_config, methods=["PUT"]),
        Route("/config", h.delete_config, methods=["DELETE"]),
        Route("/config/{subject}", h.get_config, methods=["GET"]),
        Route("/config/{subject}", h.put_config, methods=["PUT"]),
        Route("/config/{subject}", h.delete_config, methods=["DELETE"]),
        Route("/mode", h.get_mode, methods=["GET"]),
        Route("/mode", h.put_mode, methods=["PUT"]),
        Route("/mode/{subject}", h.get_mode, methods=["GET"]),
        Route("/mode/{subject}", h.put_mode, methods=["PUT"]),
        Route("/metrics", h.metrics, methods=["GET"]),
    ]


def build_app(
    service: RegistryService,
    policy: GuardPolicy,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    """The ASGI app for ``service`` behind ``policy``; ``lifespan`` starts and stops what the
    app needs."""
    return Starlette(
        routes=routes(Handlers(service)),
        exception_handlers={
            RegistryError: _registry_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        # The counter outermost, so refused requests are counted too.
        middleware=[
            Middleware(ResponseCounter, metrics=service.metrics),
            Middleware(RequestGuard, policy=policy),
        ],
        lifespan=lifespan,
    )
