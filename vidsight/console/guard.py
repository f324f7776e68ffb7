"""The console's front door, in front of every route (cheapest and least revealing first):

1. ``Host`` must name the console (bind address, loopback names, ``allowed_hosts``): a
   DNS-rebinding page reaches the loopback port under its own name and is refused (400).
2. ``Origin``, when a browser sends one, must be the console's own origin (403): no other site
   may drive it, not even by a simple form post.
3. A state-changing request (anything but GET/HEAD) needs a ``Content-Length`` within
   ``max_body_bytes`` (411/413) and, except the login form (double-submit cookie, checked by
   its handler), the session's CSRF token in ``X-CSRF-Token`` (403).
4. Every route but ``/login``, ``/static/`` and ``/healthz`` needs a valid session: pages
   redirect to ``/login``, the API answers 401.
Every answer gets the security headers (a strict CSP: scripts and styles from the console
only, no framing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.registry.guard import host_name
from vidsight.console.auth import Signer

SESSION_COOKIE = "vidsight_session"
LOGIN_CSRF_COOKIE = "vidsight_login_csrf"
PUBLIC_PREFIXES = ("/static/", "/login", "/healthz")
SAFE_METHODS = frozenset({"GET", "HEAD"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    allowed_hosts: frozenset[str]
    max_body_bytes: int
    signer: Signer

    @classmethod
    def create(
        cls, *, bind_host: str, extra_hosts: tuple[str, ...], max_body_bytes: int, signer: Signer
    ) -> GuardPolicy:
        hosts = set(LOOPBACK_HOSTS)
        for name in (bind_host, *extra_hosts):
            host = host_name(name)
            if host and host not in ("0.0.0.0", "::"):
                hosts.add(host)
        return cls(frozenset(hosts), max_body_bytes, signer)


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path in ("/events", "/evidence")


class ConsoleGuard:
    """ASGI middleware enforcing :class:`GuardPolicy`; puts the session in ``scope['state']``."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        send_secure = _with_headers(send)
        if refusal is not None:
            await refusal(scope, receive, send_secure)
            return
        await self.app(scope, receive, send_secure)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        path: str = scope["path"]
        method: str = scope["method"]
        host = headers.get("host", "")
        if host_name(host) not in self.policy.allowed_hosts or len(host) > 256:
            return PlainTextResponse("unknown Host: this console does not serve it", 400)
        origin = headers.get("origin")
        if origin is not None and origin != _own_origin(scope, host):
            return _error(403, "cross-origin request refused", path)
        cookies = cookie_parser(headers.get("cookie", ""))
        session = self.policy.signer.session(cookies.get(SESSION_COOKIE), int(time.time()))
        scope.setdefault("state", {})["session"] = session
        if method not in SAFE_METHODS:
            length = headers.get("content-length")
            if length is None or not length.isdigit():
                return _error(411, "a Content-Length is required", path)
            if int(length) > self.policy.max_body_bytes:
                return _error(413, f"body over {self.policy.max_body_bytes} bytes", path)
        if any(path.startswith(p) for p in PUBLIC_PREFIXES):
            return None
        if session is None:
            if _is_api(path) or method not in SAFE_METHODS:
                return _error(401, "login required", path)
            return RedirectResponse("/login", status_code=303)
        if method not in SAFE_METHODS and not self.policy.signer.csrf_ok(
            session, headers.get("x-csrf-token")
        ):
            return _error(403, "missing or wrong CSRF token", path)
        return None


def _own_origin(scope: Scope, host: str) -> str:
    return f"{scope.get('scheme', 'http')}://{host}"


def _error(status: int, message: str, path: str) -> Response:
    if _is_api(path):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
            keep_cache = [
                (k, v) for k, v in message.get("headers", []) if k.lower() == b"cache-control"
            ]
            extra = [h for h in SECURITY_HEADERS if h[0] != b"cache-control" or not keep_cache]
            message = {**message, "headers": raw + keep_cache + list(extra)}
        await send(message)

    return wrapped
