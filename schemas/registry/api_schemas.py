"""The ``/schemas``, ``/compatibility``, ``/config`` and ``/mode`` endpoints, and the root."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schemas.registry.api_common import (
    HandlerBase,
    body,
    flag,
    ok,
    page,
    raw_schema,
    references_json,
    schema_request,
    schema_text,
    subject,
    version,
    view,
)
from schemas.registry.avro_schema import AVRO
from schemas.registry.compatibility import Compatibility
from schemas.registry.errors import InvalidModeError, InvalidSchemaError
from schemas.registry.state import GLOBAL_MODE


class SchemaHandlers(HandlerBase):
    async def root(self, request: Request) -> Response:
        return ok({})

    async def health(self, request: Request) -> Response:
        # The one route open without credentials (stack probes): it says nothing but "up".
        return ok({"status": "UP"})

    async def metrics(self, request: Request) -> Response:
        content, content_type = self.service.metrics.render()
        return Response(content, media_type=content_type)

    # -------------------------------------------------------------------------------- /schemas

    async def list_schemas(self, request: Request) -> Response:
        found = self.state.listing(
            request.query_params.get("subjectPrefix", ""),
            deleted=flag(request, "deleted"),
            latest_only=flag(request, "latestOnly"),
        )
        return ok(page([view(version) for version in found], request))

    async def schema_by_id(self, request: Request) -> Response:
        stored = self.state.schema(request.path_params["schema_id"])
        shown: dict[str, Any] = {"schema": stored.schema}
        if stored.schema_type != AVRO:
            shown["schemaType"] = stored.schema_type
        if stored.references:
            shown["references"] = references_json(stored.references)
        if flag(request, "fetchMaxId"):
            shown["maxId"] = self.state.max_schema_id
        # ?subject= only selects a context in Confluent; ids are global here, so it is ignored.
        return ok(shown)

    async def schema_by_id_raw(self, request: Request) -> Response:
        return raw_schema(self.state.schema(request.path_params["schema_id"]).schema)

    def _id_versions(self, request: Request) -> list[tuple[str, int]]:
        schema_id = request.path_params["schema_id"]
        self.state.schema(schema_id)  # 40403 for an unknown id
        pairs = self.state.schema_versions(schema_id, deleted=flag(request, "deleted"))
        name = request.query_params.get("subject")
        return [pair for pair in pairs if name is None or pair[0] == name]

    async def schema_versions(self, request: Request) -> Response:
        pairs = self._id_versions(request)
        return ok([{"subject": name, "version": number} for name, number in pairs])

    async def schema_subjects(self, request: Request) -> Response:
        return ok(sorted({name for name, _ in self._id_versions(request)}))

    async def schema_types(self, request: Request) -> Response:
        return ok([AVRO])

    # -------------------------------------------------------------------------- compatibility

    async def check_compatibility(self, request: Request) -> Response:
        name = subject(request)
        number = version(request) if "version" in request.path_params else None
        verbose = flag(request, "verbose")
        content = await body(request)
        try:
            wanted = schema_request(content)
            schema = self.state.parse(schema_text(wanted), wanted.references)
        except InvalidSchemaError as exc:
            # Confluent: a schema that does not parse is "not compatible" when the caller asked
            # for the reasons, and 42201 otherwise.
            if not verbose:
                raise
            return ok({"is_compatible": False, "messages": [exc.message]})
        problems = self.state.check(name, schema, number)
        shown: dict[str, Any] = {"is_compatible": not problems}
        if verbose:
            shown["messages"] = problems
        return ok(shown)

    # --------------------------------------------------------------------------------- config

    async def get_config(self, request: Request) -> Response:
        if "subject" not in request.path_params:
            level = self.state.compatibility()
        else:
            level = self.state.subject_compatibility(
                subject(request), default_to_global=flag(request, "defaultToGlobal")
            )
        return ok({"compatibilityLevel": level.value})

    async def put_config(self, request: Request) -> Response:
        content = await body(request)
        level = Compatibility.parse(content.get("compatibility", content.get("compatibilityLevel")))
        name = subject(request) if "subject" in request.path_params else None
        level = await self.service.set_config(name, level)
        return ok({"compatibility": level.value})

    async def delete_config(self, request: Request) -> Response:
        name = subject(request) if "subject" in request.path_params else None
        previous = await self.service.delete_config(name)
        return ok({"compatibilityLevel": previous.value})

    # ----------------------------------------------------------------------------------- mode

    async def get_mode(self, request: Request) -> Response:
        if "subject" not in request.path_params:
            return ok({"mode": GLOBAL_MODE})
        mode = self.state.subject_mode(
            subject(request), default_to_global=flag(request, "defaultToGlobal")
        )
        return ok({"mode": mode})

    async def put_mode(self, request: Request) -> Response:
        mode = (await body(request)).get("mode")
        if not isinstance(mode, str) or mode.upper() != GLOBAL_MODE:
            raise InvalidModeError(
                f"Invalid mode {mode!r}: this registry supports {GLOBAL_MODE} only"
            )
        if "subject" in request.path_params:
            await self.service.set_mode(subject(request, checked=True), GLOBAL_MODE)
        return ok({"mode": GLOBAL_MODE})

    async def delete_mode(self, request: Request) -> Response:
        return ok({"mode": await self.service.delete_mode(subject(request))})
