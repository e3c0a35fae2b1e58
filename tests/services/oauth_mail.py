"""Mail servers that take OAuth2 logins checked against the test authorization server.

``dovecot_oauth``: Debian's Dovecot with its ``oauth2`` passdb, introspecting every XOAUTH2 or
OAUTHBEARER login at the server of ``tests.services.oauth`` (RFC 7662), so an IMAP login
succeeds only with a live access token of that user. ``oauth_smtp``: aiosmtpd on loopback
doing the same for SMTP AUTH; it can refuse the next logins (``refuse_next``) as a server
having a bad moment would, and answer password logins the way Exchange Online does once
basic authentication is off (``basic_auth_off``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.services.dovecot import Dovecot, running_dovecot
from tests.services.oauth import RESOURCE_ID, RESOURCE_SECRET, OAuthServer, basic_auth
from tests.services.smtp import LoopThread, Received

BASIC_AUTH_OFF = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
CLIENT_SUBMISSION_OFF = "550 5.7.30 Basic authentication is not supported for Client Submission."


@pytest.fixture(scope="session")
def dovecot_oauth(oauth_session_server: OAuthServer) -> Iterator[Dovecot]:
    """A Dovecot whose XOAUTH2/OAUTHBEARER logins are checked by the authorization server."""
    url = f"http://{RESOURCE_ID}:{RESOURCE_SECRET}@127.0.0.1:{oauth_session_server.port}/introspect"
    with running_dovecot(url) as server:
        yield server


def introspect(server: OAuthServer, token: str) -> dict[str, Any]:
    """Ask the authorization server about a token, as a resource server does."""
    response = httpx.post(
        f"{server.url}/introspect",
        data={"token": token},
        headers={"Authorization": basic_auth(RESOURCE_ID, RESOURCE_SECRET)},
        timeout=10,
    )
    data: dict[str, Any] = response.json()
    return data


@dataclass
class OAuthSmtp:
    """aiosmtpd validating bearer tokens; what it accepted and every AUTH it saw."""

    port: int
    messages: list[Received]
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # mech, user, accepted
    refuse_next: int = 0
    basic_auth_off: str = ""  # the reply to PLAIN/LOGIN, e.g. BASIC_AUTH_OFF
    hang_up_after: set[int] = field(default_factory=set)  # close after the Nth message's 250
    after_message: Callable[[int], None] | None = None  # called with the count of messages


class _Handler:
    def __init__(self, oauth: OAuthServer, state: OAuthSmtp) -> None:
        self.oauth = oauth
        self.state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.mail_from is not None and envelope.original_content is not None
        self.state.messages.append(
            Received(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                envelope.original_content,
                user=session.auth_data if session.authenticated else None,
            )
        )
        count = len(self.state.messages)
        if self.state.after_message is not None:
            self.state.after_message(count)
        if count in self.state.hang_up_after:  # after our 250 is written, like an idle timeout
            asyncio.get_running_loop().call_soon(server.transport.close)
        return f"250 2.0.0 Ok: queued as O{count}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.state.basic_auth_off == CLIENT_SUBMISSION_OFF and not session.authenticated:
            return CLIENT_SUBMISSION_OFF
        envelope.mail_from = address
        return "250 OK"

    async def _bearer(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        blob = base64.b64decode(args[1]).decode() if len(args) == 2 else ""
        fields = dict(
            part.split("=", 1) for part in blob.split("\x01") if "=" in part and "," not in part
        )
        if mechanism == "OAUTHBEARER":
            user = blob.split(",")[1].removeprefix("a=") if blob.count(",") >= 2 else ""
        else:
            user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        if self.state.refuse_next > 0:
            self.state.refuse_next -= 1
            ok = False
        else:
            found = self.oauth.active(token)
            ok = found is not None and found.user == user
        self.state.logins.append((mechanism, user, ok))
        if ok:
            return AuthResult(success=True, auth_data=user)
        # RFC 7628 §3.2.2 / Google: an error challenge, then the final refusal.
        error = json.dumps({"status": "invalid_token", "schemes": "bearer"}).encode()
        await server.challenge_auth(error)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Invalid credentials")

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")


@pytest.fixture
def oauth_smtp(oauth_server: OAuthServer) -> Iterator[Callable[..., OAuthSmtp]]:
    """Start SMTP servers checking tokens: ``oauth_smtp(mechanisms=("XOAUTH2",))``."""
    loops: list[LoopThread] = []

    def start(*, mechanisms: tuple[str, ...] = ("XOAUTH2", "OAUTHBEARER")) -> OAuthSmtp:
        thread = LoopThread()
        loops.append(thread)
        state = OAuthSmtp(port=0, messages=[])
        handler = _Handler(oauth_server, state)

        def refuse_password(*_: Any) -> AuthResult:
            return AuthResult(success=False, handled=False, message=state.basic_auth_off)

        excluded = [m for m in ("XOAUTH2", "OAUTHBEARER") if m not in mechanisms]

        def factory() -> SMTP:
            return SMTP(
                handler,
                hostname="oauth-smtp.test",
                loop=thread.loop,
                authenticator=refuse_password,
                auth_require_tls=False,
                auth_exclude_mechanism=excluded,
            )

        state.port = thread.serve(thread.loop.create_server(factory, "127.0.0.1", 0))
        return state

    yield start
    for thread in loops:
        thread.stop()
