"""Who is asking: signed session cookies, API tokens, CSRF tokens, and the login page.

The session cookie is signed (itsdangerous), HttpOnly and SameSite=Lax; it holds the username,
the id of a server-side session (``users.start_session``) and the CSRF token. A cookie whose
session has ended (logout, a new password, the user removed, 12 hours passed) is no login,
whatever its signature. Every POST made with a session must carry that token, in the form field
``csrf_token`` or the ``X-CSRF-Token`` header, else 403. API clients may instead send
``Authorization: Bearer TOKEN`` (``outreach user token NAME``); a browser never adds that
header by itself, so those requests need no CSRF token.

Failed sign-ins are slowed down per account and per address (``throttle``); passwords are
checked in worker threads, a few at a time, so the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from outreach import users
from outreach.config import Clock, Settings, real_time
from outreach.store import Store
from outreach.web.throttle import LoginThrottle, wait_message

SESSION_COOKIE = "outreach_session"
SESSION_HOURS = 12


@dataclass
class WebContext:
    """What every request handler needs; built once by create_app."""

    settings: Settings
    store: Store
    env: Environment
    secret: str
    clock: Clock = real_time  # OUTREACH_NOW when `outreach serve` was given one
    # (draft id, revision) -> (words changed, words); a pair's texts never change, nor do these.
    edit_cache: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # argon2 takes a core for tens of milliseconds: a few checks at once, never on the loop.
    password_checks: CapacityLimiter = field(
        default_factory=lambda: CapacityLimiter(max(1, (os.cpu_count() or 2) // 2))
    )


class LoginRequired(Exception):
    """Raised by page dependencies; create_app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def context(request: Request) -> WebContext:
    """The app's WebContext."""
    ctx: WebContext = request.app.state.ctx
    return ctx


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _session_user(request: Request) -> str | None:
    name, session_id = request.session.get("user"), request.session.get("sid")
    if not isinstance(name, str) or not isinstance(session_id, str):
        return None
    with context(request).store.session() as session:
        owner = users.session_user(session, session_id)
    if owner != name:
        request.session.clear()  # ended on the server: the cookie is reset too
        return None
    return name


def _bearer_user(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    ctx = context(request)
    with ctx.store.session() as session:
        user = users.user_for_token(session, ctx.secret, token.strip())
        return user.username if user else None


async def _check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached on the request; Form() parameters reuse it
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


async def page_user(request: Request) -> str:
    """The logged-in reviewer of a page request; otherwise off to the login page."""
    name = _session_user(request)
    if name is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    if request.method == "POST":
        await _check_csrf(request)
    return name


async def api_user(request: Request) -> str:
    """The reviewer behind an API request (token or session); 401 without one, 403 without CSRF."""
    name = _bearer_user(request)
    if name is not None:
        return name
    name = _session_user(request)
    if name is None:
        raise HTTPException(401, "log in first, or send Authorization: Bearer TOKEN")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        await _check_csrf(request)
    return name


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Queue a one-time message for the next page."""
    notes = list(request.session.get("flash") or [])
    notes.append([kind, message])
    request.session["flash"] = notes[-5:]


def render(request: Request, name: str, status_code: int = 200, **data: Any) -> HTMLResponse:
    """Render a page template with the reviewer, CSRF token and pending messages."""
    notes = request.session.pop("flash", None) or []
    html = (
        context(request)
        .env.get_template(name)
        .render(
            request=request,
            user=request.session.get("user"),
            csrf=csrf_token(request),
            notes=notes,
            **data,
        )
    )
    return HTMLResponse(html, status_code=status_code)


def safe_next(target: str | None) -> str:
    """Only local paths may be redirect targets (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if _session_user(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), error=None)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    await _check_csrf(request)
    ctx = context(request)
    account, address = username.strip(), _client_address(request)
    wait = ctx.throttle.attempt(account, address)
    if wait:
        response = render(
            request,
            "login.html",
            status_code=429,
            next=safe_next(next),
            error=wait_message(wait).capitalize() + ".",
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response

    check = partial(users.sign_in, ctx.store, account, password, hours=SESSION_HOURS)
    session_id = await to_thread.run_sync(check, limiter=ctx.password_checks)
    if session_id is None:
        return render(
            request,
            "login.html",
            status_code=401,
            next=safe_next(next),
            error="That username and password do not match.",
        )
    ctx.throttle.succeeded(account, address)
    request.session.clear()  # a fresh session (and CSRF token) for the logged-in reviewer
    request.session["user"] = account
    request.session["sid"] = session_id
    csrf_token(request)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _check_csrf(request)
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        with context(request).store.session() as session:
            users.end_session(session, session_id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    """Where a request without a session goes."""
    return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)
