"""Content negotiation: the response media type follows the request's ``Accept`` header.

Confluent's resources produce three JSON types, preferred by the server in this order
(Jersey's ``qs``): ``application/vnd.schemaregistry.v1+json``,
``application/vnd.schemaregistry+json``, ``application/json``. The one chosen is the type the
client weights highest (its ``q``, from the most specific range that matches: ``type/subtype``,
then ``type/*``, then ``*/*``), ties going to the server's preference; no ``Accept`` is
``*/*``. When the client accepts none of them the answer is 406 with Confluent's JSON error
body. ``/metrics`` answers in Prometheus' text format and is left alone.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.registry.guard import MEDIA_TYPE

# Server preference, best first, as Confluent's resources declare them.
OFFERED = (MEDIA_TYPE, "application/vnd.schemaregistry+json", "application/json")
_EXEMPT_PATHS = frozenset({"/metrics"})


def _ranges(accept: str) -> list[tuple[str, float]]:
    """(media range, q) pairs of an Accept header; malformed entries are skipped."""
    ranges = []
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        if "/" not in kind:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((kind.lower(), q))
    return ranges


def _client_q(offered: str, ranges: list[tuple[str, float]]) -> float:
    main = offered.split("/", maxsplit=1)[0]
    for wanted in (offered, f"{main}/*", "*/*"):  # the most specific range decides
        matching = [q for kind, q in ranges if kind == wanted]
        if matching:
            return max(matching)
    return 0.0


def negotiate(accept: str | None) -> str | None:
    """The media type to answer ``accept`` with; None when none of :data:`OFFERED` is
    acceptable."""
    if accept is None or not accept.strip():
        return OFFERED[0]
    ranges = _ranges(accept)
    scored = [(_client_q(offered, ranges), -rank, offered) for rank, offered in enumerate(OFFERED)]
    q, _, best = max(scored)
    return best if q > 0 else None


class ContentNegotiation:
    """ASGI middleware: 406 for an unacceptable Accept, else the chosen JSON type on every
    JSON answer."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT_PATHS:
            await self._app(scope, receive, send)
            return
        chosen = negotiate(Headers(scope=scope).get("accept"))
        if chosen is None:
            refusal = JSONResponse(
                {"error_code": 406, "message": "HTTP 406 Not Acceptable"},
                status_code=406,
                media_type=MEDIA_TYPE,
            )
            await refusal(scope, receive, send)
            return
        if chosen == MEDIA_TYPE:
            await self._app(scope, receive, send)
            return
        ours, theirs = MEDIA_TYPE.encode(), chosen.encode()

        async def send_as_chosen(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, theirs if name == b"content-type" and value == ours else value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await self._app(scope, receive, send_as_chosen)
