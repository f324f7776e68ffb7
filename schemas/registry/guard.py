"""The registry's front door: Host, Origin, HTTP basic auth, Content-Type and body size.

An ASGI middleware in front of every route, checking in this order (cheapest and least
revealing first):

1. ``Host`` must name this registry (its listen address, loopback names, the host of
   ``registry_url`` or one of ``registry_allowed_hosts``): a DNS-rebinding page reaches the
   loopback port under its own host name, and is refused here (400).
2. ``Origin``, when a browser sends one, must be the registry's own origin: the API has no web
   page, so any other origin is a cross-site request (403, 40301).
3. With ``registry_user`` set, every route but ``GET /_health`` needs that user's basic-auth
   credentials (401, 40101, ``WWW-Authenticate: Basic``), compared in constant time.
4. A write (POST or PUT, or any request with a body) must declare a JSON content type:
   ``text/plain`` and form types are what a browser may send cross-site without a preflight
   (415).
5. The body is read here, never more than ``registry_max_body_bytes``: a larger
   ``Content-Length`` is refused before a byte is read, and a chunked body is cut off as soon as
   it passes the cap (413, connection closed). The handlers get the body already in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.registry.errors import (
    BadRequestError,
    ForbiddenError,
    PayloadTooLargeError,
    RegistryError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
JSON_TYPES = frozenset({MEDIA_TYPE, "application/vnd.schemaregistry+json", "application/json"})
HEALTH_PATH = "/_health"
REALM = "vidsight-registry"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_BODY_METHODS = frozenset({"POST", "PUT"})  # every POST and PUT route reads a body


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """What the guard lets through; build it with :meth:`create`."""

    allowed_hosts: frozenset[str]
    max_body_bytes: int
    # SHA-256 of "user:password" (what basic auth sends), None when auth is off. Comparing
    # digests makes the comparison constant-time whatever the lengths of the two sides.
    credentials: bytes | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        *,
        listen_host: str,
        max_body_bytes: int,
        extra_hosts: tuple[str, ...] = (),
        user: str = "",
        password: str = "",
    ) -> GuardPolicy:
        """The policy for a registry listening on ``listen_host``; auth on when ``user``."""
        hosts = set(LOOPBACK_HOSTS)
        for name in (listen_host, *extra_hosts):
            host = host_name(name)
            if host and not _is_wildcard(host):
                hosts.add(host)
        credentials = _digest(f"{user}:{password}".encode()) if user else None
        return cls(frozenset(hosts), max_body_bytes, credentials)

    @property
    def auth(self) -> bool:
        return self.credentials is not None


def host_name(value: str) -> str:
    """The host of a ``Host`` header or a URL's netloc, lowercase, without port or brackets."""
    value = value.strip().lower().rstrip(".")
    if value.startswith("["):  # [::1] or [::1]:8081
        end = value.find("]")
        return value[1:end] if end > 0 else ""
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host.rstrip(".")
    return value


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def authorized(header: str | None, credentials: bytes) -> bool:
    """Whether an ``Authorization`` header carries the expected basic-auth credentials."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(_digest(given), credentials)


def media_type_ok(header: str | None) -> bool:
    """Whether a ``Content-Type`` is one of the JSON types, with at most a UTF-8 charset."""
    if not header:
        return False
    kind, *params = (part.strip().lower() for part in header.split(";"))
    if kind not in JSON_TYPES:
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return False
    return True


def origin_ok(origin: str | None, host_header: str, scheme: str) -> bool:
    """No Origin (not a browser's cross-origin request), or the registry's own origin."""
    if origin is None:
        return True
    parts = urlsplit(origin.strip().lower())
    return parts.scheme == scheme and parts.netloc == host_header.strip().lower()


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


class RequestGuard:
    """ASGI middleware enforcing a :class:`GuardPolicy` (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self._app = app
        self._policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            self._check_headers(scope, headers)
        except UnauthorizedError as exc:
            challenge = f'Basic realm="{REALM}", charset="UTF-8"'
            await _refuse(exc, scope, receive, send, {"WWW-Authenticate": challenge})
            return
        except RegistryError as exc:
            await _refuse(exc, scope, receive, send)
            return
        if not _has_body(headers):
            await self._app(scope, receive, send)
            return
        try:
            body = await self._read_body(headers, receive)
        except RegistryError as exc:
            await _refuse(exc, scope, receive, send)
            return
        if body is None:
            return  # the client went away
        await self._app(scope, _replay(body, receive), send)

    def _check_headers(self, scope: Scope, headers: Headers) -> None:
        policy = self._policy
        host = headers.get("host", "")
        if host_name(host) not in policy.allowed_hosts:
            raise BadRequestError(
                f"Host {host!r} is not a name of this registry; a registry reached under "
                "another name lists it in registry_allowed_hosts"
            )
        if not origin_ok(headers.get("origin"), host, scope.get("scheme", "http")):
            raise ForbiddenError(
                f"Origin {headers.get('origin')!r} may not use this registry: cross-origin "
                "requests are refused"
            )
        if (
            policy.credentials is not None
            and not (scope["method"] in ("GET", "HEAD") and scope["path"] == HEALTH_PATH)
            and not authorized(headers.get("authorization"), policy.credentials)
        ):
            raise UnauthorizedError("Unauthorized: this registry needs HTTP basic auth")
        if (scope["method"] in _BODY_METHODS or _has_body(headers)) and not media_type_ok(
            headers.get("content-type")
        ):
            raise UnsupportedMediaTypeError(
                f"Content-Type {headers.get('content-type')!r} is not supported; send "
                f"{MEDIA_TYPE} or application/json"
            )

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        limit = self._policy.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise BadRequestError(f"Content-Length {declared!r} is not a number")
            if int(declared) > limit:
                raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"Request body is larger than the limit of {limit} bytes (registry_max_body_bytes)"
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then waits for the disconnect."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(
    exc: RegistryError,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: dict[str, str] | None = None,
) -> None:
    # Connection: close, so a body the client is still sending is never read: the server
    # drops the connection after the answer instead of draining it for the next request.
    response = JSONResponse(
        {"error_code": exc.error_code, "message": exc.message},
        status_code=exc.http_status,
        headers={**(headers or {}), "Connection": "close"},
        media_type=MEDIA_TYPE,
    )
    await response(scope, receive, send)
