"""An account's servers, signed in: what the sender and the sync call for each account.

``smtp_settings`` and ``imap_mailbox`` build the transport of one account with its sign-in
(a sealed password, a saved OAuth grant through ``GrantToken``, or a token command);
``note_sync`` and ``note_send`` keep the health shown by ``outreach account list``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from outreach.accounts import records, vault
from outreach.accounts.tokens import GrantToken
from outreach.config import Clock, Settings
from outreach.errors import SignInError
from outreach.servers.imap import ImapMailbox
from outreach.servers.smtp import SmtpSettings
from outreach.servers.tokens import CommandToken, TokenSource
from outreach.store import Store
from outreach.store.models import Account, utcnow


def tokens_for(
    store: Store, settings: Settings, account: Account, *, now: Clock = utcnow
) -> TokenSource | None:
    """The account's token source, or None when it signs in with a password."""
    if account.auth == "oauth2":
        return GrantToken(store, settings, account.name, now=now)
    if account.auth == "token_command":
        return CommandToken(account.token_command, f"account {account.name}: token command")
    return None


def _password(account: Account) -> str:
    if account.secret is None:
        raise SignInError(
            f"account {account.name} has no password: run `outreach account connect "
            f"{account.name}` to enter it"
        )
    return str(vault.unseal(account.secret, account.name).get("password") or "")


def smtp_settings(
    store: Store, settings: Settings, name: str, *, now: Clock = utcnow
) -> SmtpSettings:
    """The SMTP transport of the named account, signed in its own way."""
    with store.session() as session:
        account = records.get_account(session, name)
        tokens = tokens_for(store, settings, account, now=now)
        password = None if tokens else _password(account)
        return SmtpSettings(
            host=account.smtp_host,
            port=account.smtp_port,
            security=account.smtp_security,
            username=account.username,
            password=password,
            timeout=settings.smtp.timeout_seconds,
            tokens=tokens,
        )


def imap_mailbox(
    store: Store,
    settings: Settings,
    name: str,
    *,
    folders: Sequence[str] | None = None,
    now: Clock = utcnow,
) -> ImapMailbox:
    """Open and log in to the named account's IMAP mailbox (blocking: run it in a thread)."""
    with store.session() as session:
        account = records.get_account(session, name)
        tokens = tokens_for(store, settings, account, now=now)
        password = None if tokens else _password(account)
        host, port, security = account.imap_host, account.imap_port, account.imap_security
        username = account.username
    return ImapMailbox(
        host=host,
        port=port,
        security=security,
        username=username,
        password=password,
        tokens=tokens,
        timeout=settings.imap.timeout_seconds,
        folders=folders,  # None: INBOX and Sent, or Gmail's All Mail (special-use \\All)
    )


def files_sent(store: Store, name: str) -> bool:
    """Whether the account's server files sent mail itself (then never APPEND a copy)."""
    with store.session() as session:
        return records.get_account(session, name).files_sent


def note_sync(store: Store, name: str, at: datetime) -> None:
    """Record a finished sync of the account."""
    with store.session() as session:
        records.get_account(session, name).last_sync_at = at


def note_send(store: Store, name: str, at: datetime) -> None:
    """Record a message accepted by the account's SMTP server."""
    with store.session() as session:
        records.get_account(session, name).last_send_at = at
