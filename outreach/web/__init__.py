"""The web UI and JSON API: ``create_app(settings)`` builds everything; importing does nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.sessions import SessionMiddleware

from outreach import __version__, users
from outreach.config import Clock, Settings, database_password, real_time
from outreach.conversations.reads import local_time
from outreach.conversations.waiting import waiting
from outreach.errors import InputError, LLMError, NotFound, OutreachError, StateError
from outreach.jobs import health, watching
from outreach.store import Store, open_store
from outreach.web import (
    api,
    auth,
    campaigns,
    candidates,
    conversations,
    decisions,
    outbox,
    views,
)
from outreach.web.auth import (
    SESSION_COOKIE,
    SESSION_HOURS,
    LoginRequired,
    WebContext,
    login_redirect,
    render,
)

__all__ = ["create_app"]

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
STATUS_OF: list[tuple[type[OutreachError], int]] = [
    (NotFound, 404),
    (StateError, 409),
    (InputError, 422),
    (LLMError, 502),
]


def _environment(timezone: str) -> Environment:
    env = Environment(
        loader=PackageLoader("outreach.web", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Times show in the sender's zone, named, as the recruiter lives them (the CLI does too).
    env.filters["when"] = lambda value: local_time(value, timezone)
    return env


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Time the request (Server-Timing) and set the security headers of every response."""
    start = time.perf_counter()
    response = await call_next(request)
    elapsed = (time.perf_counter() - start) * 1000
    response.headers["Server-Timing"] = f"app;dur={elapsed:.2f}"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


async def _login_required(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return login_redirect(exc)


async def _outreach_error(request: Request, exc: Exception) -> Response:
    """One of our errors: JSON under /api, the error page elsewhere, with its status code."""
    code = next((c for kind, c in STATUS_OF if isinstance(exc, kind)), 400)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(exc)}, status_code=code)
    return render(request, "error.html", status_code=code, message=str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's errors: JSON, except the 403 and 404 of pages, which get the error page."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/") or exc.status_code not in (403, 404):
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    return render(request, "error.html", status_code=exc.status_code, message=str(exc.detail))


def _waiting_count(store: Store, settings: Settings, clock: Clock) -> int:
    """How many wait on us, for the navigation; a store that fails here never breaks a page."""
    try:
        return len(waiting(store, settings, now=clock()))
    except SQLAlchemyError:
        log.warning("could not count who is waiting", exc_info=True)
        return 0


def create_app(
    settings: Settings,
    store: Store | None = None,
    *,
    secure_cookies: bool = False,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    clock: Clock = real_time,
) -> FastAPI:
    """Build the web app over a store (opened from the settings when none is given).

    ``secure_cookies`` marks the session cookie Secure (for a server behind HTTPS).
    ``clock`` is "now" for every state change and page (a fixed ``OUTREACH_NOW`` in demos).
    ``background`` jobs (the sender loop, the inbox sync) run while the server runs and are
    cancelled when it stops; see ``outreach.jobs.loops.serve_jobs``.
    """
    owned = store is None
    the_store = store or open_store(settings.database_url, password=database_password())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job()) for job in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if owned:
                the_store.close()

    app = FastAPI(
        title="outreach",
        version=__version__,
        description="Review queue API: every draft is read and approved by a person.",
        lifespan=lifespan,
        docs_url=None,  # the Swagger page loads scripts from a CDN; the schema is at /openapi.json
        redoc_url=None,
        openapi_url=None,  # served below, to logged-in reviewers only
    )
    secret = users.web_secret()
    env = _environment(settings.sender.timezone)
    # Every page shows the background loops' health and names the failing ones (one read).
    # The IDLE watcher exists only for an IMAP mailbox; a Maildir is polled by the sync.
    idle = watching.watches(settings)
    env.globals["health_all"] = lambda: [
        status
        for status in health.statuses(the_store, now=clock())
        if idle or status.component != watching.COMPONENT or status.state != health.NEVER
    ]
    env.globals["waiting_count"] = lambda: _waiting_count(the_store, settings, clock)
    app.state.ctx = WebContext(
        settings=settings, store=the_store, env=env, secret=secret, clock=clock
    )

    app.middleware("http")(_security_headers)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(OutreachError, _outreach_error)
    app.add_exception_handler(HTTPException, _http_error)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[str, Depends(auth.api_user)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    static = resources.files("outreach.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(auth.router)
    app.include_router(api.router)
    app.include_router(decisions.router)
    app.include_router(views.router)
    app.include_router(conversations.router)
    app.include_router(conversations.api)
    app.include_router(campaigns.router)
    app.include_router(campaigns.api)
    app.include_router(outbox.router)
    app.include_router(outbox.pages)
    app.include_router(candidates.router)
    return app
