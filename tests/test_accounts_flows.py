"""Accounts at work: a token that expires mid-sync and mid-send (nothing lost or sent twice),
Exchange's refusal of passwords explained, and no secret in the database, logs or events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from outreach.accounts import presets, records, transport, vault
from outreach.config import Settings
from outreach.errors import ConfigError, SyncError
from outreach.inbox.sync import run_sync
from outreach.sending import outbox as sending
from outreach.sending.sender import run_sender
from outreach.servers.smtp import SmtpConnection
from outreach.store import Store
from outreach.store.models import Message
from tests import inbox_kit, outbox_kit
from tests.accounts_kit import add_oauth_account, connect, oauth_settings
from tests.services.dovecot import Dovecot
from tests.services.oauth import OAuthServer
from tests.services.oauth_mail import BASIC_AUTH_OFF, CLIENT_SUBMISSION_OFF, OAuthSmtp
from tests.services.smtp import loopback_settings

REFRESH = "refresh_token"
MESSAGE = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.mark.dovecot
def test_a_token_expiring_mid_sync_loses_and_doubles_nothing(
    store: Store,
    db_url: str,
    oauth_server: OAuthServer,
    dovecot_oauth: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token ends and the server drops the session mid-sync; the next run refreshes."""
    settings = oauth_settings(oauth_server, monkeypatch)
    user = dovecot_oauth.new_user()
    add_oauth_account(store, "maria", user, dovecot_oauth)
    connect(store, settings, "maria", user)
    emails = [f"cand{n}@example.com" for n in range(1, 7)]
    people = inbox_kit.add_people(store, emails)
    for n, email in enumerate(emails, 1):
        raw = inbox_kit.gmail_reply(
            email, f"<r{n}@mail.example>", "Sounds good!", people[email].message_id
        )
        dovecot_oauth.deliver(user, raw)
    sync_settings = inbox_kit.settings("127.0.0.1", dovecot_oauth.port, user, db_url)

    def token_ends(folder: str, done: int, total: int) -> None:
        if folder == "INBOX" and done == 2:
            oauth_server.expire_access_tokens()
            dovecot_oauth.kill_connections(user)  # as Exchange drops a session at expiry

    box = transport.imap_mailbox(store, settings, "maria")
    with pytest.raises(SyncError, match="connection"):
        run_sync(sync_settings, store, mailbox=box, chunk=2, progress=token_ends)
    box.close()
    assert count_messages(store) == 2  # the first chunk was committed with its watermark
    box = transport.imap_mailbox(store, settings, "maria")  # refused once, refreshed, in
    report = run_sync(sync_settings, store, mailbox=box, chunk=2)
    box.close()
    assert report.counts["replies"] == 4
    assert oauth_server.requests[REFRESH] == 1
    with store.session() as session:
        ids = session.scalars(select(Message.message_id)).all()
    assert sorted(ids) == sorted(f"<r{n}@mail.example>" for n in range(1, 7))


def count_messages(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(Message.id))) or 0)


def test_a_token_expiring_mid_send_loses_and_doubles_nothing(
    store: Store,
    oauth_server: OAuthServer,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the first message the token ends and the server hangs up: refresh, send the rest."""
    settings = oauth_settings(oauth_server, monkeypatch)
    smtp = oauth_smtp()
    add_oauth_account(store, "maria", outbox_kit.SENDER, smtp_port=smtp.port)
    connect(store, settings, "maria", outbox_kit.SENDER)
    drafts = outbox_kit.add_drafts(store, 3)
    smtp.hang_up_after = {1}
    smtp.after_message = lambda count: oauth_server.expire_access_tokens() if count == 1 else None

    report = asyncio.run(
        run_sender(
            store,
            outbox_kit.settings(smtp.port),
            clock=lambda: outbox_kit.MONDAY,
            smtp=transport.smtp_settings(store, settings, "maria"),
            sleep=outbox_kit.no_sleep,
        )
    )
    assert sorted(report.sent) == sorted(e.id for e in outbox_kit.entries(store))
    assert outbox_kit.states(store) == {draft: "sent" for draft in drafts}
    sent_ids = sorted(e.message_id for e in outbox_kit.entries(store))
    assert sorted(outbox_kit.message_ids([m.data for m in smtp.messages])) == sent_ids
    assert [ok for _, _, ok in smtp.logins] == [True, False, True]
    assert oauth_server.requests[REFRESH] == 1


def test_a_grant_revoked_mid_send_keeps_the_rest_queued(
    store: Store,
    oauth_server: OAuthServer,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    smtp = oauth_smtp()
    add_oauth_account(store, "maria", outbox_kit.SENDER, smtp_port=smtp.port)
    connect(store, settings, "maria", outbox_kit.SENDER)
    outbox_kit.add_drafts(store, 3)
    smtp.hang_up_after = {1}

    def revoked(count: int) -> None:
        oauth_server.revoke_user(outbox_kit.SENDER)
        oauth_server.expire_access_tokens()

    smtp.after_message = revoked
    with pytest.raises(ConfigError, match="Google refused the saved sign-in for maria@"):
        asyncio.run(
            run_sender(
                store,
                outbox_kit.settings(smtp.port),
                clock=lambda: outbox_kit.MONDAY,
                smtp=transport.smtp_settings(store, settings, "maria"),
                sleep=outbox_kit.no_sleep,
            )
        )
    assert sorted(outbox_kit.states(store).values()) == ["queued", "queued", "sent"]
    assert len(smtp.messages) == 1 and oauth_server.requests[REFRESH] == 1


@pytest.mark.parametrize("reply", [BASIC_AUTH_OFF, CLIENT_SUBMISSION_OFF.replace("550", "535")])
def test_exchange_refusing_passwords_is_explained(
    oauth_smtp: Callable[..., OAuthSmtp], reply: str
) -> None:
    smtp = oauth_smtp()
    smtp.basic_auth_off = reply
    settings = loopback_settings(smtp.port, username="maria@nordlys.example", password="pw")

    async def go() -> object:
        async with SmtpConnection(settings) as conn:
            return await conn.send("maria@nordlys.example", ["b@example.test"], MESSAGE)

    with pytest.raises(ConfigError) as refused:
        asyncio.run(go())
    message = str(refused.value)
    assert "turned off basic authentication for SMTP" in message
    assert "--provider microsoft" in message and reply.split(" ", 2)[1] in message
    assert smtp.messages == []


def test_550_5_7_30_at_mail_from_keeps_the_message_queued(
    store: Store, oauth_smtp: Callable[..., OAuthSmtp]
) -> None:
    """Not a verdict on the message: the account cannot send at all, so nothing is failed."""
    smtp = oauth_smtp()
    smtp.basic_auth_off = CLIENT_SUBMISSION_OFF
    draft = outbox_kit.add_draft(store)
    with pytest.raises(ConfigError, match=r"550 5\.7\.30 .*sign in with Microsoft"):
        asyncio.run(
            run_sender(store, outbox_kit.settings(smtp.port), clock=lambda: outbox_kit.MONDAY)
        )
    assert outbox_kit.states(store) == {draft: sending.QUEUED}
    assert smtp.messages == []


def test_gmail_and_microsoft_presets_never_append_a_sent_copy(store: Store) -> None:
    assert presets.preset("gmail").files_sent and presets.preset("microsoft").files_sent
    assert not presets.preset("fastmail").files_sent
    add_oauth_account(store, "maria", "maria@example.test")
    assert transport.files_sent(store, "maria")
    assert presets.ceilings(presets.preset("gmail"), "maria@gmail.com") == (500, None)
    assert presets.ceilings(presets.preset("gmail"), "maria@nordlys.example") == (2000, None)
    assert presets.ceilings(presets.preset("microsoft"), "m@x.example") == (10000, 30)


def test_secrets_are_never_in_the_database_logs_or_events(
    store: Store,
    db_url: str,
    tmp_path: Path,
    oauth_server: OAuthServer,
    oauth_smtp: Callable[..., OAuthSmtp],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = oauth_settings(oauth_server, monkeypatch)
    smtp = oauth_smtp()
    add_oauth_account(store, "maria", outbox_kit.SENDER, smtp_port=smtp.port)
    connect(store, settings, "maria", outbox_kit.SENDER)
    oauth_server.expire_access_tokens()
    outbox_kit.add_drafts(store, 2)
    asyncio.run(
        run_sender(
            store,
            outbox_kit.settings(smtp.port),
            clock=lambda: outbox_kit.MONDAY,
            smtp=transport.smtp_settings(store, settings, "maria"),
        )
    )
    with store.session() as session:
        records.add_account(
            session, "shared", provider="fastmail", email="jobs@example.test",
            password="app-password-Zq8",
        )  # fmt: skip
        sealed = records.get_account(session, "maria").secret or b""
    grant = vault.unseal(sealed, "maria")
    secrets = [
        *oauth_server.refresh_tokens(outbox_kit.SENDER),
        *(t.access_token for t in oauth_server.tokens),
        "app-password-Zq8",
    ]
    assert grant["refresh_token"] in secrets and len(secrets) >= 3
    dump = database_text(store, db_url)
    # Everything but the test servers' own logs (Authlib's server side, aiosmtpd's mail.log).
    servers = ("authlib.oauth2.rfc", "mail.log")
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(servers))
    assert "HTTP Request: POST" in ours  # the client's requests were captured
    for secret in secrets:
        assert secret not in dump, "a secret is stored in plain text"
        assert secret not in ours, "a secret was logged"
    assert "account.connected" in dump and "account.added" in dump


def database_text(store: Store, db_url: str) -> str:
    """Every table's rows as text (and, for SQLite, the database and WAL files' bytes)."""
    parts = []
    with store.engine.connect() as connection:
        names = [
            row[0]
            for row in connection.execute(
                text("select name from sqlite_master where type='table'")
                if db_url.startswith("sqlite")
                else text("select tablename from pg_tables where schemaname = current_schema()")
            )
        ]
        for name in names:
            parts += [
                repr(tuple(row)) for row in connection.execute(text(f'select * from "{name}"'))
            ]
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                parts.append(file.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def test_config_toml_refuses_client_secrets_and_tokens(tmp_path: Path) -> None:
    from outreach.config import load_config

    config = tmp_path / "config.toml"
    config.write_text('[google]\nclient_id = "x"\nclient_secret = "s3cret"\n')
    with pytest.raises(ConfigError, match="line 3: google.client_secret: secrets don't belong"):
        load_config(config)
    assert "OUTREACH_GOOGLE_CLIENT_SECRET" in str(
        pytest.raises(ConfigError, load_config, config).value
    )
    assert isinstance(Settings().microsoft.tenant, str)
