"""The ``/subjects`` endpoints: listing, registration, versions, lookup, deletes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from schemas.registry.api_common import (
    HandlerBase,
    body,
    flag,
    ok,
    page,
    raw_schema,
    schema_request,
    schema_text,
    subject,
    version,
    view,
)


class SubjectHandlers(HandlerBase):
    async def list_subjects(self, request: Request) -> Response:
        names = self.state.subjects(
            deleted=flag(request, "deleted"),
            deleted_only=flag(request, "deleted_only", "deletedOnly"),
        )
        prefix = request.query_params.get("subjectPrefix", "")
        return ok(page([name for name in names if name.startswith(prefix)], request))

    async def list_versions(self, request: Request) -> Response:
        return ok(self.state.versions(subject(request), deleted=flag(request, "deleted")))

    async def register(self, request: Request) -> Response:
        name = subject(request, checked=True)
        # normalize=true is accepted: every schema is normalised to its canonical text anyway.
        wanted = schema_request(await body(request), registering=True)
        schema = self.state.parse(schema_text(wanted), wanted.references)
        registration = await self.service.register(name, schema)
        return ok({"id": registration.schema_id})

    async def get_version(self, request: Request) -> Response:
        found = self.state.get_version(
            subject(request), version(request), deleted=flag(request, "deleted")
        )
        return ok(view(found))

    async def get_version_schema(self, request: Request) -> Response:
        found = self.state.get_version(
            subject(request), version(request), deleted=flag(request, "deleted")
        )
        return raw_schema(found.schema)

    async def referenced_by(self, request: Request) -> Response:
        found = self.state.get_version(subject(request), version(request), deleted=True)
        return ok(page(self.state.referenced_by(found.subject, found.version), request))

    async def lookup(self, request: Request) -> Response:
        wanted = schema_request(await body(request))
        schema = self.state.parse(schema_text(wanted), wanted.references)
        found = self.state.lookup(subject(request), schema, deleted=flag(request, "deleted"))
        return ok(view(found))

    async def delete_subject(self, request: Request) -> Response:
        versions = await self.service.delete_subject(
            subject(request), permanent=flag(request, "permanent")
        )
        return ok(versions)

    async def delete_version(self, request: Request) -> Response:
        number = await self.service.delete_version(
            subject(request), version(request), permanent=flag(request, "permanent")
        )
        return ok(number)
