"""First sign-in: the loopback redirect (state and PKCE checked) and the device code, against
the test authorization server; the tokens then log in to real Dovecot and SMTP servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from outreach.accounts import oauth, records, service, signin, transport
from outreach.errors import InputError, SignInError
from outreach.servers.smtp import Accepted, SmtpConnection
from outreach.store import Store
from tests.accounts_kit import add_oauth_account, connect, consent, oauth_settings
from tests.services.dovecot import Dovecot
from tests.services.oauth import OAuthServer
from tests.services.oauth_mail import OAuthSmtp

pytestmark = pytest.mark.dovecot
MESSAGE = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nhello\r\n"


def test_loopback_sign_in_logs_in_to_imap_with_xoauth2(
    store: Store,
    oauth_server: OAuthServer,
    dovecot_oauth: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    user = dovecot_oauth.new_user()
    add_oauth_account(store, "maria", user, dovecot_oauth)
    connect(store, settings, "maria", user)

    with store.session() as session:
        account = records.get_account(session, "maria")
        assert account.state == "connected" and account.secret is not None
        assert account.token_expires_at is not None and account.granted_at is not None
    assert oauth_server.requests["authorization_code"] == 1
    box = transport.imap_mailbox(store, settings, "maria")
    try:
        assert box.select("INBOX").uidvalidity > 0
    finally:
        box.close()
    assert oauth_server.requests["/introspect"] >= 1  # Dovecot asked about the token
    assert oauth_server.requests["refresh_token"] == 0


def test_authorization_url_carries_state_and_pkce(
    oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = oauth.oauth_app(oauth_settings(oauth_server, monkeypatch), "google")
    flow = signin.LoopbackSignIn(app, login_hint="maria@example.test")
    try:
        query = parse_qs(urlsplit(flow.start()).query)
    finally:
        flow.close()
    assert query["state"] == [flow.state]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256, unpadded
    assert query["redirect_uri"] == [f"http://127.0.0.1:{flow.port}/"]
    assert query["access_type"] == ["offline"] and query["login_hint"] == ["maria@example.test"]


def test_a_redirect_with_another_state_is_refused(
    oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = oauth.oauth_app(oauth_settings(oauth_server, monkeypatch), "google")
    flow = signin.LoopbackSignIn(app, login_hint="user1@example.test")
    url = flow.start()
    forged = httpx.get(f"{flow.redirect_uri}?code=stolen&state=guess", timeout=10)
    assert forged.status_code == 400 and "does not belong" in forged.text
    page = consent(url, "user1@example.test")  # the real redirect still completes the sign-in
    tokens = flow.wait(10)
    assert "You are signed in" in page.text
    assert oauth_server.active(tokens.access_token) is not None


def test_declining_consent_is_one_clear_error(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    add_oauth_account(store, "maria", "user1@example.test")
    with pytest.raises(SignInError, match="Google sign-in did not finish: access_denied"):
        service.connect(
            store,
            settings,
            "maria",
            open_url=lambda url: consent(url, "user1@example.test", allow=False),
            show_code=lambda url, code: None,
            timeout=10,
        )
    with store.session() as session:
        assert records.get_account(session, "maria").state == "new"
    assert oauth_server.requests["authorization_code"] == 0


def test_device_code_sign_in_then_smtp_oauthbearer(
    store: Store,
    oauth_server: OAuthServer,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)  # Microsoft: a public client
    smtp = oauth_smtp()
    add_oauth_account(store, "jobs", "jobs@example.test", provider="microsoft", smtp_port=smtp.port)
    shown: list[tuple[str, str]] = []

    def person_enters_code(url: str, code: str) -> None:
        shown.append((url, code))
        page = httpx.post(
            url, data={"user_code": code, "user": "jobs@example.test", "allow": "1"}, timeout=10
        )
        assert "go back to your device" in page.text

    service.connect(
        store,
        settings,
        "jobs",
        device=True,
        open_url=lambda url: None,
        show_code=person_enters_code,
    )
    assert shown and shown[0][0] == f"{oauth_server.url}/device"
    assert oauth_server.requests["urn:ietf:params:oauth:grant-type:device_code"] >= 1

    async def send() -> object:
        async with SmtpConnection(transport.smtp_settings(store, settings, "jobs")) as conn:
            return await conn.send("jobs@example.test", ["b@example.test"], MESSAGE)

    assert isinstance(asyncio.run(send()), Accepted)
    assert smtp.logins == [("OAUTHBEARER", "jobs@example.test", True)]
    assert smtp.messages[0].user == "jobs@example.test"


def test_google_refuses_mail_scopes_in_the_device_flow(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    add_oauth_account(store, "maria", "user1@example.test")
    with pytest.raises(InputError, match="Google does not allow mail access through a device"):
        service.connect(
            store, settings, "maria", device=True, open_url=print, show_code=lambda u, c: None
        )
    assert oauth_server.requests["/device/code"] == 0


def test_a_declined_device_code_is_one_clear_error(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    add_oauth_account(store, "jobs", "jobs@example.test", provider="microsoft")

    def person_declines(url: str, code: str) -> None:
        oauth_server.approve_device(code, "jobs@example.test", allow=False)

    with pytest.raises(SignInError, match="Microsoft sign-in did not finish: access_denied"):
        service.connect(
            store, settings, "jobs", device=True, open_url=print, show_code=person_declines
        )
    with store.session() as session:
        assert records.get_account(session, "jobs").state == "new"
