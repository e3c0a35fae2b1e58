"""The two ways a person signs in: a browser redirected to a loopback listener, or a code.

Loopback (RFC 8252 §7.3): a tiny HTTP listener on 127.0.0.1 and a random port receives the
provider's redirect with the authorization code. It answers only a request that carries the
``state`` this sign-in made (anything else gets a 400 and is otherwise ignored), and the
code is useless without the PKCE verifier that never leaves this process.

Device code (RFC 8628): for a machine without a browser; the person opens a URL elsewhere and
types a short code. Google does not allow mail scopes in this flow, Microsoft does.
"""

from __future__ import annotations

import hmac
import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from outreach.accounts import oauth
from outreach.accounts.oauth import OAuthApp, Tokens
from outreach.errors import ConfigError, InputError, SignInError, SignInUnavailable

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>outreach</title>
</head><body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>{title}</h1><p>{text}</p></body></html>"""


@dataclass
class _Answer:
    code: str = ""
    error: str = ""


class LoopbackSignIn:
    """A sign-in through the browser: ``start()`` gives the URL to open, ``wait()`` the tokens."""

    def __init__(self, app: OAuthApp, *, login_hint: str, port: int = 0) -> None:
        self.app = app
        self.login_hint = login_hint
        self.state = oauth.new_state()
        self.verifier = oauth.new_verifier()
        self._answer = _Answer()
        self._done = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.redirect_uri = f"http://{app.redirect_host}:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> str:
        """Start listening and return the provider's sign-in URL."""
        self._thread.start()
        return oauth.authorization_url(
            self.app,
            redirect_uri=self.redirect_uri,
            state=self.state,
            verifier=self.verifier,
            login_hint=self.login_hint,
        )

    def wait(self, timeout: float = 300.0) -> Tokens:
        """Wait for the redirect, then trade the code for tokens; always stops the listener."""
        try:
            if not self._done.wait(timeout):
                raise InputError(
                    f"no sign-in arrived within {timeout:g} s; run the command again and "
                    "finish the sign-in in the browser"
                )
        finally:
            self.close()
        if self._answer.error:
            raise SignInError(f"{self.app.label} sign-in did not finish: {self._answer.error}")
        return _exchange(
            lambda: oauth.exchange_code(
                self.app,
                code=self._answer.code,
                redirect_uri=self.redirect_uri,
                verifier=self.verifier,
            ),
            self.app,
        )

    def close(self) -> None:
        """Stop the listener (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        signin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                query = parse_qs(urlsplit(self.path).query)
                state = query.get("state", [""])[0]
                if signin._done.is_set() or not hmac.compare_digest(state, signin.state):
                    self._page(
                        400,
                        "Not this sign-in",
                        "This link does not belong to the "
                        "sign-in outreach is waiting for. Close this tab.",
                    )
                    return
                error = query.get("error", [""])[0]
                if error:
                    detail = query.get("error_description", [""])[0]
                    signin._answer.error = f"{error} {detail}".strip()
                    self._page(
                        200,
                        "Sign-in cancelled",
                        "outreach was not allowed to read and send mail. You can close this tab.",
                    )
                else:
                    signin._answer.code = query.get("code", [""])[0]
                    self._page(
                        200,
                        "You are signed in",
                        "outreach can now read and send "
                        "your mail. You can close this tab and go back to the terminal.",
                    )
                signin._done.set()

            def _page(self, status: int, title: str, text: str) -> None:
                body = PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line carries the authorization code: never log it

        return Handler


def _exchange(action: Callable[[], Tokens], app: OAuthApp) -> Tokens:
    try:
        return action()
    except oauth.GrantRefused as exc:
        raise SignInError(
            f"{app.label} refused the sign-in code ({exc.description or 'invalid_grant'}); "
            "run the command again"
        ) from None
    except oauth.AppRefused as exc:
        raise ConfigError(app_refused(app, str(exc))) from None
    except oauth.Unreachable as exc:
        raise SignInUnavailable(f"{app.label} sign-in is not reachable: {exc}") from None


def app_refused(app: OAuthApp, reason: str) -> str:
    """The one line for a wrong client id or secret."""
    env = f"OUTREACH_{app.provider.upper()}_CLIENT_SECRET"
    return (
        f"{app.label} refused the app ({reason}): check [{app.provider}] client_id in "
        f"config.toml and {env} (or {app.provider}_client_secret in the keys file)"
    )


def device_sign_in(
    app: OAuthApp,
    *,
    show: Callable[[str, str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Tokens:
    """Sign in with a device code: ``show(url, code)`` tells the person, then poll."""
    if app.provider == "google" and "mail.google.com" in app.scope:
        # https://developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes
        raise InputError(
            "Google does not allow mail access through a device code; sign in with a browser "
            "(on a machine without one: `ssh -L PORT:127.0.0.1:PORT` and "
            "`outreach account connect NAME --port PORT`)"
        )
    device = _exchange_device(lambda: oauth.start_device(app), app)
    show(device.verification_uri, device.user_code)
    interval = max(device.interval, 1.0)
    deadline = clock() + device.expires_in
    while clock() < deadline:
        sleep(interval)
        try:
            answer = oauth.poll_device(app, device)
        except oauth.Unreachable as exc:
            reason = str(exc)
            if reason.startswith(("access_denied", "expired_token")):
                raise SignInError(f"{app.label} sign-in did not finish: {reason}") from None
            raise SignInUnavailable(f"{app.label} sign-in is not reachable: {reason}") from None
        except oauth.GrantRefused as exc:
            raise SignInError(f"{app.label} refused the device code: {exc.description}") from None
        except oauth.AppRefused as exc:
            raise ConfigError(app_refused(app, str(exc))) from None
        if isinstance(answer, Tokens):
            return answer
        if answer == "slow_down":
            interval += 5  # RFC 8628 §3.5
    raise SignInError(f"the code {device.user_code} expired before it was entered; try again")


def _exchange_device(action: Callable[[], oauth.DeviceCode], app: OAuthApp) -> oauth.DeviceCode:
    try:
        return action()
    except oauth.AppRefused as exc:
        raise ConfigError(app_refused(app, str(exc))) from None
    except (oauth.Unreachable, oauth.GrantRefused) as exc:
        raise SignInUnavailable(f"{app.label} device sign-in is not reachable: {exc}") from None
