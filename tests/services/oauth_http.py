"""The test authorization server's HTTP side: Authlib's grants and endpoints over WSGI.

The state and policies live in ``tests.services.oauth``; this module serves them on a free
loopback port for the test session (``oauth_session_server``) and resets them for each test
(``oauth_server``).
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import (
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)

from tests.services.oauth import DAY, RESOURCE_ID, Client, Code, OAuthServer, Request, Token


def _save_token(state: OAuthServer, token: dict[str, Any], request: Any) -> None:
    """Keep an issued token; a rotated refresh token ends the old one."""
    user = request.user
    previous = getattr(request, "refresh_token", None)
    now = state.now()
    with state.lock:
        state.tokens.append(
            Token(
                access_token=token["access_token"],
                refresh_token=token.get("refresh_token")
                or (previous.refresh_token if previous else None),
                client_id=request.client.client_id,
                user=user,
                scope=token.get("scope", ""),
                issued_at=now,
                expires_in=int(token["expires_in"]),
                granted_at=previous.granted_at if previous else now,
                used_at=now,
                server=state,
            )
        )
        if previous is not None and token.get("refresh_token"):
            previous.refresh_token = None  # rotated: the old one no longer works


def _grants(state: OAuthServer) -> tuple[type, type, type, type, type, type]:
    """Authlib grant and endpoint classes bound to one server's state."""

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def save_authorization_code(self, code: str, request: Any) -> None:
            payload = request.payload.data
            state.codes[code] = Code(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=payload.get("redirect_uri", ""),
                scope=payload.get("scope", ""),
                user=request.user,
                code_challenge=payload.get("code_challenge"),
                code_challenge_method=payload.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = state.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            state.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return authorization_code.user

    class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
            self.INCLUDE_NEW_REFRESH_TOKEN = state.rotate_refresh
            now = state.now()
            with state.lock:
                found = next((t for t in state.tokens if t.refresh_token == refresh_token), None)
            if found is None or found.revoked:
                raise InvalidGrantError("Token has been expired or revoked.")
            if state.testing_days and now - found.granted_at >= state.testing_days * DAY:
                raise InvalidGrantError("Token has been expired or revoked.")
            if state.idle_days and now - found.used_at >= state.idle_days * DAY:
                raise InvalidGrantError(
                    "AADSTS700082: The refresh token has expired due to inactivity. The token "
                    f"was inactive for {state.idle_days}.00:00:00."
                )
            found.used_at = now
            return found

        def authenticate_user(self, refresh_token: Token) -> str:
            return refresh_token.user

        def revoke_old_credential(self, refresh_token: Token) -> None:
            pass  # the old access token lives out its lifetime, as at Google and Microsoft

    class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
            return state.devices.get(device_code)

        def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
            return state.device_grants.get(user_code)

        def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
            return False

    class DeviceEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
        INTERVAL = 1

        def get_verification_uri(self) -> str:
            return f"{state.url}/device"

        def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
            state.devices[data["device_code"]] = DeviceCredentialDict(
                {**data, "client_id": client_id, "scope": scope,
                 "expires_at": time.time() + data["expires_in"]}
            )  # fmt: skip

    class Revocation(RevocationEndpoint):  # type: ignore[misc]
        CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            with state.lock:
                return next(
                    (t for t in state.tokens if token_string in (t.access_token, t.refresh_token)),
                    None,
                )

        def revoke_token(self, token: Token, request: Any) -> None:
            state.revoke_user(token.user)  # Google: revoking one token ends the whole grant

    class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            with state.lock:
                return next((t for t in state.tokens if t.access_token == token_string), None)

        def introspect_token(self, token: Token) -> dict[str, Any]:
            return {
                "active": True,
                "client_id": token.client_id,
                "username": token.user,
                "scope": token.scope,
                "exp": int(token.issued_at + token.expires_in),
            }

        def check_permission(self, token: Token, client: Client, request: Any) -> bool:
            return client.client_id == RESOURCE_ID

    return CodeGrant, RefreshGrant, DeviceGrant, DeviceEndpoint, Revocation, Introspection


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, state: OAuthServer) -> None:
        super().__init__()
        self.state = state
        code, refresh, device, device_endpoint, revocation, introspection = _grants(state)

        def expires_in(client: Client, grant_type: str) -> int:
            return state.access_lifetime

        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda *a, **k: "at-" + secrets.token_urlsafe(24),
                lambda *a, **k: "rt-" + secrets.token_urlsafe(32),
                expires_in,
            ),
        )
        self.register_grant(code, [CodeChallenge(required=True)])
        self.register_grant(refresh)
        self.register_grant(device)
        self.register_endpoint(device_endpoint)
        self.register_endpoint(revocation)
        self.register_endpoint(introspection)

    def query_client(self, client_id: str) -> Client | None:
        return self.state.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        _save_token(self.state, token, request)

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>"""


def _html(title: str, body: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    page = _PAGE.format(title=html.escape(title), body=body).encode()
    return 200, page, [("Content-Type", "text/html; charset=utf-8")]


class App:
    """The WSGI application: consent and device pages, token, device, revoke, introspect."""

    def __init__(self, state: OAuthServer) -> None:
        self.state = state
        self.server = _Server(state)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        status, body, headers = self.route(environ)
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers = [*(h for h in headers if h[0].lower() != "content-type"),
                       ("Content-Type", "application/json")]  # fmt: skip
        elif isinstance(body, str):
            body = body.encode()
        reason = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized"}
        start_response(f"{status} {reason.get(status, 'Error')}", list(headers))
        return [body]

    def _request(self, environ: dict[str, Any]) -> Request:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length).decode() if length else ""
        query = environ.get("QUERY_STRING", "")
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        uri = f"{self.state.url}{environ['PATH_INFO']}" + (f"?{query}" if query else "")
        return Request(environ["REQUEST_METHOD"], uri, headers, dict(parse_qsl(raw)),
                       dict(parse_qsl(query)))  # fmt: skip

    def route(self, environ: dict[str, Any]) -> tuple[int, Any, list[tuple[str, str]]]:
        request = self._request(environ)
        path, method = environ["PATH_INFO"], request.method
        state = self.state
        with state.lock:
            state.requests[path] += 1
        if path == "/authorize" and method == "GET":
            return self.consent(request)
        if path == "/authorize" and method == "POST":
            args = dict(parse_qsl(request.form.get("query", "")))
            approved = Request("GET", f"{state.url}/authorize", {}, {}, args)
            user = request.form["user"] if request.form.get("allow") else None
            with state.lock:
                grant = self.server.get_consent_grant(approved, end_user=user)
                return self.server.create_authorization_response(  # type: ignore[no-any-return]
                    approved, grant_user=user, grant=grant
                )
        if path == "/token":
            with state.lock:
                state.requests[request.form.get("grant_type", "?")] += 1
                failure = state.fail_next.pop(0) if state.fail_next else None
            if failure is not None:
                return failure, "<html>try again later</html>", [("Content-Type", "text/html")]
            with state.lock:
                status, body, headers = self.server.create_token_response(request)
            if state.expires_in_as_string and isinstance(body, dict) and "expires_in" in body:
                body["expires_in"] = str(body["expires_in"])
            return status, body, headers
        if path == "/device/code":
            with state.lock:
                return self.server.create_endpoint_response("device_authorization", request)  # type: ignore[no-any-return]
        if path == "/device":
            return self.device_page(request)
        if path == "/revoke":
            with state.lock:
                return self.server.create_endpoint_response("revocation", request)  # type: ignore[no-any-return]
        if path == "/introspect":
            with state.lock:
                return self.server.create_endpoint_response("introspection", request)  # type: ignore[no-any-return]
        return 404, "not found", [("Content-Type", "text/plain")]

    def consent(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        try:
            self.server.get_consent_grant(request)
        except Exception as exc:  # shown to the person, as providers do
            return 400, f"<p id=error>{html.escape(str(exc))}</p>", [("Content-Type", "text/html")]
        hint = html.escape(request.args.get("login_hint", ""))
        query = html.escape(urlencode(request.args))
        form = (
            f'<form method="post" action="/authorize"><input type="hidden" name="query" '
            f'value="{query}"><label>Account <input name="user" value="{hint}"></label>'
            '<button name="allow" value="1" id="allow">Allow</button>'
            '<button name="deny" value="1" id="deny">Deny</button></form>'
        )
        return _html("outreach wants to read and send your mail", form)

    def device_page(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        if request.method == "POST":
            code = request.form.get("user_code", "")
            known = any(d["user_code"] == code for d in self.state.devices.values())
            if not known:
                return _html("Unknown code", "<p id=result>That code is not known.</p>")
            self.state.approve_device(code, request.form["user"], bool(request.form.get("allow")))
            return _html("Done", "<p id=result>You can go back to your device.</p>")
        form = (
            '<form method="post" action="/device"><input name="user_code" id="code">'
            '<input name="user" id="user"><button name="allow" value="1" id="allow">Allow'
            "</button></form>"
        )
        return _html("Enter the code shown on your device", form)


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def oauth_session_server() -> Iterator[OAuthServer]:
    """The authorization server for the test session, on a free loopback port."""
    state = OAuthServer()
    state.reset()
    httpd = make_server("127.0.0.1", 0, App(state), server_class=_Threading,
                        handler_class=_Quiet)  # fmt: skip
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def oauth_server(oauth_session_server: OAuthServer) -> OAuthServer:
    """The session's authorization server, reset for this test."""
    oauth_session_server.reset()
    return oauth_session_server
