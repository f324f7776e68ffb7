"""``create_app(settings)``: the console's Starlette application (nothing is built at import).

Pages are rendered by Jinja2 templates and completed by one small script (``static/console.js``)
that listens to ``/events`` and calls the JSON API; no asset comes from elsewhere.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from schemas.serde import Serde
from vidsight.console.api import ROUTES as API_ROUTES
from vidsight.console.auth import MAX_PASSWORD_CHARS, Signer, check_login, hash_password
from vidsight.console.clips import clip_routes
from vidsight.console.context import Console
from vidsight.console.feed import Hub, LiveFeed
from vidsight.console.guard import LOGIN_CSRF_COOKIE, SESSION_COOKIE, ConsoleGuard, GuardPolicy
from vidsight.console.readmodels import ReadModelsClient
from vidsight.console.settings import LOCAL_OPERATOR, ConsoleSettings
from vidsight.console.stores import Stores
from vidsight.console.writes import Writer

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
LOGIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
PAGES = {"/": "alerts.html", "/cameras": "cameras.html", "/editor": "editor.html"}


def accounts_of(settings: ConsoleSettings) -> dict[str, str]:
    """User name -> password hash: the configured users plus the local operator account."""
    accounts = {u: h.get_secret_value() for u, h in settings.users.items()}
    local = settings.console_password.get_secret_value()
    if local and LOCAL_OPERATOR not in accounts:
        accounts[LOCAL_OPERATOR] = hash_password(local)
    return accounts


async def _login_form(request: Request) -> dict[str, str]:
    """The login form's fields (urlencoded; the guard capped the body's size)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        return {}
    try:
        fields = parse_qs((await request.body()).decode(), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in fields.items() if v}


def create_app(
    settings: ConsoleSettings, *, serde: Serde | None = None, feed: bool = True
) -> Starlette:
    """The console over ``settings``' stores and topics; ``feed=False`` leaves out the live feed."""
    key = settings.console_session_secret.get_secret_value().encode() or secrets.token_bytes(32)
    signer = Signer(key)
    serde = serde or Serde.for_registry(settings)
    hub = Hub(settings.revisions_kept)
    ctx = Console(
        settings=settings,
        signer=signer,
        accounts=accounts_of(settings),
        stores=Stores(settings),
        hub=hub,
        writer=Writer(settings, serde),
        readmodels=ReadModelsClient(settings.readmodels_url),
    )
    if not ctx.accounts:
        log.warning("no operator account: set users or console_password; nobody can log in")
    dummy = hash_password(secrets.token_urlsafe(12))
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
    )
    live = LiveFeed(settings, serde, hub) if feed else None

    def render(request: Request, template: str, status: int = 200, **values: object) -> Response:
        session = request.scope["state"].get("session")
        csrf = signer.csrf(session) if session is not None else ""
        html = env.get_template(template).render(
            user=session.user if session else None, csrf=csrf, path=request.url.path, **values
        )
        return HTMLResponse(html, status_code=status)

    async def page(request: Request) -> Response:
        return render(request, PAGES[request.url.path], bucket=settings.s3_bucket)

    async def alert_page(request: Request) -> Response:
        return render(request, "alert.html", alert_id=request.path_params["alert_id"])

    async def login_form(request: Request, error: str = "", status: int = 200) -> Response:
        # A browser may fetch the form twice (Chromium does): keep the token it already
        # holds, or the form shown would not match the cookie of the second answer.
        held = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        token = held if LOGIN_TOKEN.fullmatch(held) else secrets.token_urlsafe(24)
        response = render(request, "login.html", status, login_csrf=token, error=error)
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
            secure=settings.secure_cookies, path="/login",
        )  # fmt: skip
        return response

    async def login(request: Request) -> Response:
        form = await _login_form(request)
        given = form.get("csrf", "")
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not given or not hmac.compare_digest(given.encode(), cookie.encode()):
            return await login_form(request, "the form expired; try again", 403)
        user = form.get("user", "")[:64]
        password = form.get("password", "")[: MAX_PASSWORD_CHARS + 1]
        if not check_login(user, password, ctx.accounts, dummy_hash=dummy):
            log.warning("login refused user=%r", user)
            return await login_form(request, "wrong user name or password", 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, signer.issue(user, int(time.time()), settings.session_max_age_s),
            max_age=settings.session_max_age_s, httponly=True, samesite="strict",
            secure=settings.secure_cookies, path="/",
        )  # fmt: skip
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "feed": "ready" if hub.ready.is_set() and not hub.error else hub.error}
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if live is not None:
            live.start()
        try:
            yield
        finally:
            if live is not None:
                live.stop()

    routes = [
        *API_ROUTES,
        *clip_routes(),
        *(Route(p, page, methods=["GET"]) for p in PAGES),
        Route("/alerts/{alert_id}", alert_page, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = ctx
    policy = GuardPolicy.create(
        bind_host=settings.host,
        extra_hosts=settings.allowed_hosts,
        max_body_bytes=settings.max_body_bytes,
        signer=signer,
    )
    app.add_middleware(ConsoleGuard, policy=policy)
    return app
