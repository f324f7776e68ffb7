"""The Confluent Schema Registry REST API over a RegistryService (starlette).

The subset that the confluent-kafka serializers and the common tools use; see the package
docstring for the endpoint list. Responses are JSON in the media type the ``Accept`` header
asks for (``negotiation``); errors are ``{"error_code": N, "message": "..."}`` with Confluent's
codes and statuses. The handlers live in ``api_subjects`` and ``api_schemas``.

Routes match the raw request path: a subject may contain ``/`` (path-like names, Protobuf-style
reference subjects), which clients send as ``%2F``; starlette decodes the path before routing,
so ``/subjects/a%2Fb/versions`` would otherwise look like a path with one segment too many.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from schemas.registry.api_common import error
from schemas.registry.api_schemas import SchemaHandlers
from schemas.registry.api_subjects import SubjectHandlers
from schemas.registry.errors import RegistryError
from schemas.registry.guard import HEALTH_PATH, MEDIA_TYPE, GuardPolicy, RequestGuard
from schemas.registry.metrics import ResponseCounter
from schemas.registry.negotiation import ContentNegotiation
from schemas.registry.service import RegistryService

__all__ = ["MEDIA_TYPE", "RawPathRoute", "build_app", "routes"]

log = logging.getLogger(__name__)


class RawPathRoute(Route):
    """A route matched against the raw (still percent-encoded) path, so an encoded ``/`` stays
    inside its segment; string parameters are percent-decoded (UTF-8) after the match."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = scope.get("raw_path")
        if scope["type"] != "http" or raw is None:
            return super().matches(scope)
        # latin-1 maps every byte to one character, so nothing is lost before the regex runs.
        path = raw.decode("latin-1")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        match, child = super().matches({**scope, "path": path, "root_path": ""})
        if match is not Match.NONE:
            child["path_params"] = {
                name: _decoded(value) if isinstance(value, str) else value
                for name, value in child["path_params"].items()
            }
        return match, child


def _decoded(value: str) -> str:
    return unquote_to_bytes(value.encode("latin-1")).decode("utf-8", "replace")


# --------------------------------------------------------------------------------- the factory


async def _registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    if exc.http_status >= 500:
        log.error(
            "request failed method=%s path=%s error=%s", request.method, request.url.path, exc
        )
    return error(exc.http_status, exc.error_code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.status_code, exc.detail)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("request crashed method=%s path=%s", request.method, request.url.path)
    return error(500, 500, f"Internal server error: {type(exc).__name__}")


def routes(service: RegistryService) -> list[Route]:
    s, h = SubjectHandlers(service), SchemaHandlers(service)
    subject = "/subjects/{subject}"
    version = subject + "/versions/{version}"
    schema_id = "/schemas/ids/{schema_id:int}"
    table: list[tuple[str, Callable[[Request], Any], str]] = [
        ("/", h.root, "GET"),
        (HEALTH_PATH, h.health, "GET"),
        ("/metrics", h.metrics, "GET"),
        ("/subjects", s.list_subjects, "GET"),
        (subject, s.lookup, "POST"),
        (subject, s.delete_subject, "DELETE"),
        (subject + "/versions", s.list_versions, "GET"),
        (subject + "/versions", s.register, "POST"),
        (version, s.get_version, "GET"),
        (version, s.delete_version, "DELETE"),
        (version + "/schema", s.get_version_schema, "GET"),
        (version + "/referencedby", s.referenced_by, "GET"),
        ("/schemas", h.list_schemas, "GET"),
        ("/schemas/types", h.schema_types, "GET"),
        (schema_id, h.schema_by_id, "GET"),
        (schema_id + "/schema", h.schema_by_id_raw, "GET"),
        (schema_id + "/versions", h.schema_versions, "GET"),
        (schema_id + "/subjects", h.schema_subjects, "GET"),
        ("/compatibility" + version, h.check_compatibility, "POST"),
        ("/compatibility" + subject + "/versions", h.check_compatibility, "POST"),
        ("/config", h.get_config, "GET"),
        ("/config", h.put_config, "PUT"),
        ("/config", h.delete_config, "DELETE"),
        ("/config/{subject}", h.get_config, "GET"),
        ("/config/{subject}", h.put_config, "PUT"),
        ("/config/{subject}", h.delete_config, "DELETE"),
        ("/mode", h.get_mode, "GET"),
        ("/mode", h.put_mode, "PUT"),
        ("/mode/{subject}", h.get_mode, "GET"),
        ("/mode/{subject}", h.put_mode, "PUT"),
        ("/mode/{subject}", h.delete_mode, "DELETE"),
    ]
    return [RawPathRoute(path, endpoint, methods=[method]) for path, endpoint, method in table]


def build_app(
    service: RegistryService,
    policy: GuardPolicy,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    """The ASGI app for ``service`` behind ``policy``; ``lifespan`` starts and stops what the
    app needs."""
    return Starlette(
        routes=routes(service),
        exception_handlers={
            RegistryError: _registry_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        # The counter outermost, so refused requests are counted too; negotiation after the
        # guard, so nothing about the API is said to a request the guard refuses.
        middleware=[
            Middleware(ResponseCounter, metrics=service.metrics),
            Middleware(RequestGuard, policy=policy),
            Middleware(ContentNegotiation),
        ],
        lifespan=lifespan,
    )
