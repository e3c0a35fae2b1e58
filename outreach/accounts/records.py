"""The accounts table: add, find, list, connect, mark for reconnect, remove.

Each change writes an audit event that names the account and what changed, never a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.accounts import vault
from outreach.accounts.oauth import Tokens
from outreach.accounts.presets import Preset, ceilings, preset
from outreach.errors import InputError, NotFound
from outreach.store.models import Account, Event

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NEW, CONNECTED, RECONNECT = "new", "connected", "reconnect"
DEFAULT = "default"  # config.toml's [smtp]/[imap] mailbox, as `account list` shows it


@dataclass(frozen=True)
class Servers:
    """Hosts and ports that override a preset (all of them for a generic account)."""

    imap_host: str = ""
    imap_port: int | None = None
    imap_security: str = ""
    smtp_host: str = ""
    smtp_port: int | None = None
    smtp_security: str = ""
    username: str = ""


def _event(session: Session, account: Account, action: str, actor: str, **details: Any) -> None:
    session.add(
        Event(
            actor=actor,
            action=f"account.{action}",
            subject_type="account",
            subject_id=account.id,
            details={"name": account.name, **details},
        )
    )


def add_account(
    session: Session,
    name: str,
    *,
    provider: str,
    email: str,
    servers: Servers = Servers(),
    password: str | None = None,
    token_command: str = "",
    actor: str = "cli",
) -> Account:
    """Add an account from a preset; a password is sealed at once, OAuth waits for connect."""
    found = preset(provider)
    if not NAME.match(name):
        raise InputError(
            f"account name {name!r}: use lowercase letters, digits, '.', '_' or '-' (like maria)"
        )
    if name == DEFAULT:
        raise InputError(f"the name {DEFAULT} stands for config.toml's mailbox; pick another")
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise InputError(f"--email {email!r} is not an email address")
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise InputError(f"an account named {name} exists; pick another name or remove it first")
    account = _from_preset(found, name, email, servers)
    if token_command:
        account.auth = "token_command"
        account.token_command = token_command
    if account.auth == "oauth2" and password is not None:
        raise InputError(f"{found.label} signs in with OAuth2, not a password: leave it out")
    if not (account.imap_host and account.smtp_host):
        raise InputError(f"a {provider} account needs --imap-host and --smtp-host")
    if password is not None:
        account.auth = "password"
        account.secret = vault.seal({"password": password}, create=True)
        account.state = CONNECTED
    elif account.auth == "token_command":
        account.state = CONNECTED
    session.add(account)
    session.flush()
    _event(session, account, "added", actor, provider=provider, auth=account.auth)
    return account


def _from_preset(found: Preset, name: str, email: str, servers: Servers) -> Account:
    daily, per_minute = ceilings(found, email)
    return Account(
        name=name,
        provider=found.provider,
        email=email,
        username=servers.username or email,
        imap_host=servers.imap_host or found.imap_host,
        imap_port=servers.imap_port or found.imap_port,
        imap_security=servers.imap_security or found.imap_security,
        smtp_host=servers.smtp_host or found.smtp_host,
        smtp_port=servers.smtp_port or found.smtp_port,
        smtp_security=servers.smtp_security or found.smtp_security,
        sent_folder=found.sent_folder,
        all_mail_folder=found.all_mail_folder,
        files_sent=found.files_sent,
        auth=found.auth,
        daily_limit=daily,
        per_minute_limit=per_minute,
        state=NEW,
        token_command="",
        scope="",
        display_name="",
        last_error="",
    )


def get_account(session: Session, name: str) -> Account:
    """The account of that name; NotFound saying how to list them."""
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise NotFound(f"no account named {name}; `outreach account list` shows them")
    return account


def list_accounts(session: Session) -> list[Account]:
    """Every account, by name."""
    return list(session.scalars(select(Account).order_by(Account.name)))


def save_grant(
    session: Session, account: Account, tokens: Tokens, *, now: datetime, actor: str = "cli"
) -> None:
    """Keep a new sign-in: sealed tokens, expiry, and the account back to connected."""
    if not tokens.refresh_token:
        raise InputError(
            f"the sign-in for {account.email} gave no refresh token, so it would stop working "
            "within the hour; sign in again and allow offline access"
        )
    account.secret = vault.seal(
        {"refresh_token": tokens.refresh_token, "access_token": tokens.access_token}, create=True
    )
    account.scope = tokens.scope
    account.token_expires_at = now + timedelta(seconds=tokens.lifetime)
    account.granted_at = now
    account.refreshed_at = now
    account.state = CONNECTED
    account.last_error = ""
    account.last_error_at = None
    account.updated_at = now
    _event(session, account, "connected", actor)


def store_refreshed(session: Session, account: Account, tokens: Tokens, *, now: datetime) -> None:
    """Keep the tokens a refresh gave (a rotated refresh token replaces the old one)."""
    grant = vault.unseal(account.secret or b"", account.name)
    grant["access_token"] = tokens.access_token
    if tokens.refresh_token:
        grant["refresh_token"] = tokens.refresh_token
    account.secret = vault.seal(grant)
    account.token_expires_at = now + timedelta(seconds=tokens.lifetime)
    account.refreshed_at = now
    if account.state != CONNECTED or account.last_error:
        account.state = CONNECTED
        account.last_error = ""
        account.last_error_at = None
    account.updated_at = now


def mark_reconnect(
    session: Session, account: Account, message: str, *, now: datetime, actor: str
) -> None:
    """The saved sign-in is gone: stop using it until the person connects again."""
    grant = vault.unseal(account.secret, account.name) if account.secret else {}
    grant.pop("access_token", None)
    account.secret = vault.seal(grant) if grant else None
    account.token_expires_at = None
    account.state = RECONNECT
    account.last_error = message
    account.last_error_at = now
    account.updated_at = now
    _event(session, account, "needs_reconnect", actor, reason=message)


def remove_account(session: Session, account: Account, *, actor: str = "cli") -> None:
    """Delete the account row and with it every secret it held."""
    _event(session, account, "removed", actor, provider=account.provider)
    session.delete(account)
