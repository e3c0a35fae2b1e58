"""A real OAuth2 authorization server on loopback, built on Authlib's server side.

It issues authorization codes (PKCE required), device codes, access and refresh tokens with
short, configurable lifetimes, and answers revocation (RFC 7009) and introspection (RFC 7662)
— the endpoint Dovecot's oauth2 passdb and the test SMTP server ask about every login.
It keeps the habits of the real providers that the tests need: a consent page the browser
submits, Google's 7-day end of "Testing" sign-ins, Microsoft's 90-day idle end and rotated
refresh tokens, and ``fail_next`` to answer the next token requests with a server error.
Its clock is ``time.time() + offset`` so a test can move it days ahead.

One server serves the test session (Dovecot is configured with its introspection URL when it
starts); ``oauth_server`` (in ``oauth_http``, which serves it) resets it for each test.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc8628 import (
    DeviceCredentialDict,
)

CLIENT_ID = "outreach-test-app"
CLIENT_SECRET = "test-client-secret"
PUBLIC_ID = "outreach-desktop-app"  # a public client, as Microsoft desktop apps are
RESOURCE_ID = "mail-servers"  # Dovecot and the SMTP server introspect as this client
RESOURCE_SECRET = "resource-secret"
SCOPE = "https://mail.google.com/"
DAY = 86400


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    public: bool = False

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return "http://127.0.0.1/"

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 8252 §7.3: any port on the loopback interface
        return redirect_uri.startswith(("http://127.0.0.1:", "http://localhost:"))

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in {"client_secret_post", "client_secret_basic"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return True


@dataclass
class Token:
    access_token: str
    refresh_token: str | None
    client_id: str
    user: str
    scope: str
    issued_at: float
    expires_in: int
    granted_at: float  # when the person signed in: the refresh token's origin
    used_at: float  # the refresh token's last use
    revoked: bool = False
    server: OAuthServer | None = None

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        assert self.server is not None
        return self.server.now() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.user

    def get_client(self) -> Client:
        assert self.server is not None
        return self.server.clients[self.client_id]


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class Request(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request from a WSGI environ (query and form merged like Flask's values)."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], form: dict[str, str],
                 args: dict[str, str]) -> None:  # fmt: skip
        super().__init__(method, uri, headers=headers)
        self._form, self._args = form, args
        self.payload = BasicOAuth2Payload({**args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class OAuthServer:
    """The state and policies of the server; everything a test may read or change."""

    port: int = 0
    offset: float = 0.0  # seconds added to the real clock
    access_lifetime: int = 3600
    expires_in_as_string: bool = False  # like Microsoft's old v1 endpoint
    rotate_refresh: bool = False  # Microsoft: each refresh returns a new refresh token
    testing_days: int | None = None  # Google "Testing" apps: refresh tokens end after 7 days
    idle_days: int | None = None  # Microsoft: refresh tokens unused for 90 days end
    fail_next: list[int] = field(default_factory=list)  # statuses for the next token requests
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: list[Token] = field(default_factory=list)
    codes: dict[str, Code] = field(default_factory=dict)
    devices: dict[str, DeviceCredentialDict] = field(default_factory=dict)
    device_grants: dict[str, tuple[str, bool]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)  # grant type or endpoint -> count
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def now(self) -> float:
        return time.time() + self.offset

    def reset(self) -> None:
        """Forget every grant and policy: a fresh server for the next test."""
        with self.lock:
            self.offset, self.access_lifetime = 0.0, 3600
            self.expires_in_as_string = self.rotate_refresh = False
            self.testing_days = self.idle_days = None
            self.fail_next.clear()
            self.tokens.clear()
            self.codes.clear()
            self.devices.clear()
            self.device_grants.clear()
            self.requests.clear()
            self.clients[CLIENT_ID] = Client(CLIENT_ID, CLIENT_SECRET)
            self.clients[PUBLIC_ID] = Client(PUBLIC_ID, "", public=True)
            self.clients[RESOURCE_ID] = Client(RESOURCE_ID, RESOURCE_SECRET)

    def advance(self, seconds: float) -> None:
        """Move the server's clock ahead."""
        self.offset += seconds

    def expire_access_tokens(self) -> None:
        """End every access token now, as time passing would (refresh tokens stay)."""
        with self.lock:
            for token in self.tokens:
                token.expires_in = 0

    def revoke_user(self, user: str) -> None:
        """Revoke every token of a user, as "remove access" in the provider's settings does."""
        with self.lock:
            for token in self.tokens:
                if token.user == user:
                    token.revoked = True

    def active(self, access_token: str) -> Token | None:
        """The live token with this access token, if any."""
        with self.lock:
            for token in self.tokens:
                if token.access_token == access_token:
                    return None if token.is_expired() or token.revoked else token
        return None

    def refresh_tokens(self, user: str) -> list[str]:
        return [t.refresh_token for t in self.tokens if t.user == user and t.refresh_token]

    def approve_device(self, user_code: str, user: str, allow: bool = True) -> None:
        """What the person does on the verification page."""
        self.device_grants[user_code] = (user, allow)


def basic_auth(client_id: str, secret: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
