"""The token helper against a real authorization server: refreshed before expiry and once after
a refusal, never in a storm; a refused grant is one clear line; a passing failure is not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from outreach.accounts import records, transport, vault
from outreach.accounts.records import Servers
from outreach.accounts.tokens import GrantToken
from outreach.config import Settings
from outreach.errors import ConfigError, NotFound, SignInError
from outreach.servers.smtp import Accepted, Outcome, SmtpConnection, Transient
from outreach.store import Store
from tests.accounts_kit import Clock, add_oauth_account, connect, oauth_settings
from tests.services.dovecot import Dovecot
from tests.services.oauth import DAY, OAuthServer
from tests.services.oauth_mail import OAuthSmtp

MESSAGE = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nhello\r\n"
REFRESH = "refresh_token"


def send(store: Store, settings: Settings, name: str, clock: Clock | None = None) -> Outcome:
    async def go() -> Outcome:
        smtp = transport.smtp_settings(store, settings, name, now=clock or Clock())
        async with SmtpConnection(smtp) as conn:
            return await conn.send("a@example.test", ["b@example.test"], MESSAGE)

    return asyncio.run(go())


@pytest.mark.parametrize("as_string", [False, True], ids=["seconds", "string-seconds"])
def test_expiry_is_reckoned_in_seconds_from_the_answer(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch, as_string: bool
) -> None:
    """expires_in is relative seconds: no refresh within the hour, one near its end."""
    oauth_server.expires_in_as_string = as_string  # Microsoft's v1 endpoint sent "3599"
    settings = oauth_settings(oauth_server, monkeypatch)
    clock = Clock()
    add_oauth_account(store, "maria", "user1@example.test")
    connect(store, settings, "maria", "user1@example.test", now=clock)
    with store.session() as session:
        assert records.get_account(session, "maria").token_expires_at == clock.at + timedelta(
            seconds=3600
        )
    tokens = GrantToken(store, settings, "maria", now=clock)
    start = clock.at
    first = tokens.token()
    for seconds in (1, 60, 600, 1800, 3000, 3299):
        clock.at = start + timedelta(seconds=seconds)
        assert tokens.token() == first
    assert oauth_server.requests[REFRESH] == 0
    clock.at = start + timedelta(seconds=3301)  # within the last five minutes
    second = tokens.token()
    assert second != first and oauth_server.active(second) is not None
    for seconds in (3302, 3600, 6000):
        clock.at = start + timedelta(seconds=seconds)
        assert tokens.token() == second
    assert oauth_server.requests[REFRESH] == 1


def test_short_lived_tokens_are_not_refreshed_on_every_call(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 60 s token is refreshed in its last tenth, not on every call (a fixed 5 min margin)."""
    oauth_server.access_lifetime = 60
    settings = oauth_settings(oauth_server, monkeypatch)
    clock = Clock()
    add_oauth_account(store, "maria", "user1@example.test")
    connect(store, settings, "maria", "user1@example.test", now=clock)
    tokens = GrantToken(store, settings, "maria", now=clock)
    start = clock.at
    for seconds in range(0, 54, 3):
        clock.at = start + timedelta(seconds=seconds)
        tokens.token()
    assert oauth_server.requests[REFRESH] == 0
    clock.at = start + timedelta(seconds=55)
    tokens.token()
    assert oauth_server.requests[REFRESH] == 1


@pytest.mark.dovecot
def test_a_token_the_server_refuses_is_refreshed_once(
    store: Store,
    oauth_server: OAuthServer,
    dovecot_oauth: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our clock says valid, the server says expired: one refresh, the login goes through."""
    settings = oauth_settings(oauth_server, monkeypatch)
    user = dovecot_oauth.new_user()
    add_oauth_account(store, "maria", user, dovecot_oauth)
    connect(store, settings, "maria", user)
    oauth_server.expire_access_tokens()
    box = transport.imap_mailbox(store, settings, "maria")
    box.close()
    assert oauth_server.requests[REFRESH] == 1
    box = transport.imap_mailbox(store, settings, "maria")  # the new token is kept and reused
    box.close()
    assert oauth_server.requests[REFRESH] == 1


def test_one_refused_login_is_not_a_revoked_grant(
    store: Store,
    oauth_server: OAuthServer,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that refuses a good token once: refresh, log in, the account stays connected."""
    settings = oauth_settings(oauth_server, monkeypatch)
    smtp = oauth_smtp(mechanisms=("XOAUTH2",))
    add_oauth_account(store, "maria", "user1@example.test", smtp_port=smtp.port)
    connect(store, settings, "maria", "user1@example.test")
    smtp.refuse_next = 1
    assert isinstance(send(store, settings, "maria"), Accepted)
    assert [ok for _, _, ok in smtp.logins] == [False, True]
    assert [mech for mech, _, _ in smtp.logins] == ["XOAUTH2", "XOAUTH2"]
    assert oauth_server.requests[REFRESH] == 1
    with store.session() as session:
        account = records.get_account(session, "maria")
        assert account.state == "connected" and account.last_error == ""
    assert len(smtp.messages) == 1


def test_a_fresh_token_refused_again_stops_without_a_loop(
    store: Store,
    oauth_server: OAuthServer,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    smtp = oauth_smtp()
    add_oauth_account(store, "maria", "user1@example.test", smtp_port=smtp.port)
    connect(store, settings, "maria", "user1@example.test")
    smtp.refuse_next = 10
    with pytest.raises(ConfigError, match="refused the login of 'user1@example.test': 535"):
        send(store, settings, "maria")
    assert len(smtp.logins) == 2 and oauth_server.requests[REFRESH] == 1
    with store.session() as session:
        assert records.get_account(session, "maria").state == "connected"  # the grant is fine


@pytest.mark.parametrize("status", [503, 429, 401])
def test_a_passing_token_endpoint_failure_keeps_the_grant(
    store: Store,
    oauth_server: OAuthServer,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    """5xx, 429, or a 401 without an OAuth error: try later; the grant is not revoked."""
    settings = oauth_settings(oauth_server, monkeypatch)
    smtp = oauth_smtp()
    clock = Clock()
    add_oauth_account(store, "maria", "user1@example.test", smtp_port=smtp.port)
    connect(store, settings, "maria", "user1@example.test", now=clock)
    clock.at += timedelta(hours=2)
    oauth_server.expire_access_tokens()
    oauth_server.fail_next.append(status)
    outcome = send(store, settings, "maria", clock)
    assert isinstance(outcome, Transient) and "not reachable just now" in outcome.reply
    assert smtp.messages == [] and smtp.logins == []
    with store.session() as session:
        assert records.get_account(session, "maria").state == "connected"
    assert isinstance(send(store, settings, "maria", clock), Accepted)
    assert oauth_server.requests[REFRESH] == 2


@pytest.mark.dovecot
def test_a_revoked_grant_is_one_line_and_no_retry_storm(
    store: Store,
    oauth_server: OAuthServer,
    dovecot_oauth: Dovecot,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    smtp = oauth_smtp()
    maria, lena = dovecot_oauth.new_user(), dovecot_oauth.new_user()
    add_oauth_account(store, "maria", maria, dovecot_oauth, smtp_port=smtp.port)
    add_oauth_account(store, "lena", lena, dovecot_oauth, smtp_port=smtp.port)
    connect(store, settings, "maria", maria)
    connect(store, settings, "lena", lena)
    oauth_server.revoke_user(maria)  # "Remove access" in her Google account

    line = f"Google refused the saved sign-in for {maria}: run `outreach account connect maria`"
    for _ in range(5):
        with pytest.raises(SignInError) as refused:
            transport.imap_mailbox(store, settings, "maria")
        assert str(refused.value).startswith(line) and "\n" not in str(refused.value)
        with pytest.raises(SignInError, match="run `outreach account connect maria`"):
            send(store, settings, "maria")
    assert oauth_server.requests[REFRESH] == 1  # asked once; after that the answer is known
    assert smtp.messages == []
    with store.session() as session:
        account = records.get_account(session, "maria")
        assert account.state == "reconnect" and account.last_error.startswith(line)
    box = transport.imap_mailbox(store, settings, "lena")  # the other account keeps working
    box.close()
    assert isinstance(send(store, settings, "lena"), Accepted)

    connect(store, settings, "maria", maria)  # reconnecting clears the state
    box = transport.imap_mailbox(store, settings, "maria")
    box.close()
    with store.session() as session:
        assert records.get_account(session, "maria").state == "connected"


def test_google_testing_apps_end_sign_ins_after_seven_days(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth_server.testing_days = 7
    settings = oauth_settings(oauth_server, monkeypatch)
    clock = Clock()
    add_oauth_account(store, "maria", "maria@example.test")
    connect(store, settings, "maria", "maria@example.test", now=clock)
    tokens = GrantToken(store, settings, "maria", now=clock)
    clock.at += timedelta(days=6)
    oauth_server.advance(6 * DAY)
    tokens.token()  # day 6: still fine
    clock.at += timedelta(days=2)
    oauth_server.advance(2 * DAY)
    with pytest.raises(SignInError) as ended:
        tokens.token()
    message = str(ended.value)
    assert message.startswith("Google refused the saved sign-in for maria@example.test")
    assert 'signed in 8 days ago: Google ends the sign-ins of apps in "Testing" status' in message
    assert "docs/oauth.md" in message


def test_microsoft_ends_a_sign_in_unused_for_ninety_days(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth_server.idle_days = 90
    oauth_server.rotate_refresh = True
    settings = oauth_settings(oauth_server, monkeypatch)
    clock = Clock()
    add_oauth_account(store, "jobs", "jobs@example.test", provider="microsoft")
    connect(store, settings, "jobs", "jobs@example.test", now=clock)
    tokens = GrantToken(store, settings, "jobs", now=clock)
    clock.at += timedelta(days=60)
    oauth_server.advance(60 * DAY)
    tokens.token()  # used on day 60: the 90 days start again, with a rotated refresh token
    clock.at += timedelta(days=91)
    oauth_server.advance(91 * DAY)
    with pytest.raises(SignInError) as ended:
        tokens.token()
    assert str(ended.value) == (
        "Microsoft refused the saved sign-in for jobs@example.test: run `outreach account "
        "connect jobs` (Microsoft ends a sign-in that was not used for 90 days)"
    )
    assert oauth_server.requests[REFRESH] == 2


def test_a_rotated_refresh_token_replaces_the_old_one(
    store: Store, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth_server.rotate_refresh = True
    settings = oauth_settings(oauth_server, monkeypatch)
    clock = Clock()
    add_oauth_account(store, "jobs", "jobs@example.test", provider="microsoft")
    connect(store, settings, "jobs", "jobs@example.test", now=clock)
    tokens = GrantToken(store, settings, "jobs", now=clock)
    for _ in range(3):  # each refresh spends the refresh token it used
        clock.at += timedelta(hours=2)
        tokens.token()
    with store.session() as session:
        account = records.get_account(session, "jobs")
        saved = vault.unseal(account.secret or b"", "jobs")["refresh_token"]
        assert account.state == "connected"
    assert oauth_server.refresh_tokens("jobs@example.test") == [saved]
    assert oauth_server.requests[REFRESH] == 3


@pytest.mark.dovecot
def test_a_password_account_logs_in_with_its_sealed_password(
    store: Store, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    with store.session() as session:
        records.add_account(
            session,
            "shared",
            provider="imap",
            email=user,
            password=dovecot.password,
            servers=Servers(
                imap_host="127.0.0.1", imap_port=dovecot.port, imap_security="none",
                smtp_host="127.0.0.1", smtp_port=25, smtp_security="none",
            ),
        )  # fmt: skip
    box = transport.imap_mailbox(store, Settings(), "shared")
    assert box.select("INBOX").exists == 0
    box.close()
    with store.session() as session:
        sealed = records.get_account(session, "shared").secret or b""
    assert dovecot.password.encode() not in sealed


def test_an_unknown_account_is_named(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotFound, match="no account named nobody; `outreach account list`"):
        transport.imap_mailbox(store, Settings(), "nobody")
