"""What the command line and the web do with accounts: connect, list with health, remove."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from outreach.accounts import oauth, records, signin, vault
from outreach.accounts.tokens import app_for
from outreach.config import Clock, Settings
from outreach.errors import InputError
from outreach.store import Store
from outreach.store.models import Account, utcnow


def connect(
    store: Store,
    settings: Settings,
    name: str,
    *,
    open_url: Callable[[str], None],
    show_code: Callable[[str, str], None],
    device: bool = False,
    port: int = 0,
    timeout: float = 300.0,
    now: Clock = utcnow,
) -> Account:
    """Sign an OAuth account in (browser or device code) and keep the grant sealed."""
    with store.session() as session:
        account = records.get_account(session, name)
        provider, email, auth = account.provider, account.email, account.auth
    if auth != "oauth2":
        raise InputError(
            f"account {name} signs in with a {auth.replace('_', ' ')}, not OAuth2: remove it "
            "and add it again to change how it signs in"
        )
    vault.cipher(create=True)  # make the key now, not after the person signed in
    app = app_for(settings, provider)
    if device:
        tokens = signin.device_sign_in(app, show=show_code)
    else:
        flow = signin.LoopbackSignIn(app, login_hint=email, port=port)
        try:
            open_url(flow.start())
            tokens = flow.wait(timeout)
        finally:
            flow.close()
    with store.session() as session:
        account = records.get_account(session, name)
        records.save_grant(session, account, tokens, now=now())
        return account


def set_password(store: Store, name: str, password: str, *, now: Clock = utcnow) -> None:
    """Replace the sealed password of a password account."""
    with store.session() as session:
        account = records.get_account(session, name)
        if account.auth != "password":
            raise InputError(f"account {name} does not sign in with a password")
        account.secret = vault.seal({"password": password}, create=True)
        account.state = records.CONNECTED
        account.last_error = ""
        account.updated_at = now()


def remove(store: Store, settings: Settings, name: str) -> str:
    """Revoke the sign-in where the provider allows it, delete the account; say what happened."""
    with store.session() as session:
        account = records.get_account(session, name)
        provider, auth, sealed = account.provider, account.auth, account.secret
    said = "its password was deleted" if auth == "password" else "nothing was saved"
    if auth == "oauth2" and sealed is not None:
        app = app_for(settings, provider)
        refresh_token = str(vault.unseal(sealed, name).get("refresh_token") or "")
        if not app.revoke_url:
            said = (
                f"{app.label} offers apps no way to revoke a sign-in: the saved one was "
                "deleted; to end it everywhere, sign out of all sessions in your account settings"
            )
        else:
            status = oauth.revoke(app, refresh_token) if refresh_token else None
            if status == 200:
                said = f"{app.label} revoked the sign-in and it was deleted"
            else:
                why = "could not be reached" if status is None else f"answered HTTP {status}"
                said = (
                    f"{app.label} {why}, so the sign-in was deleted here but not revoked; "
                    "remove outreach's access in your account's security settings"
                )
    with store.session() as session:
        records.remove_account(session, records.get_account(session, name))
    return said


@dataclass(frozen=True)
class Status:
    """One account as `outreach account list` shows it."""

    name: str
    provider: str
    email: str
    auth: str
    state: str
    token_expires: datetime | None
    last_sync: datetime | None
    last_send: datetime | None
    problem: str
    daily_limit: int | None
    per_minute_limit: int | None
    source: str = "database"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601)."""
        data = asdict(self)
        for key in ("token_expires", "last_sync", "last_send"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def statuses(store: Store, settings: Settings) -> list[Status]:
    """Every account, and config.toml's [smtp]/[imap] as the default one when set."""
    rows = [_status(account) for account in _accounts(store)]
    default = config_status(settings)
    return ([default] if default else []) + rows


def _accounts(store: Store) -> list[Account]:
    with store.session() as session:
        return records.list_accounts(session)


def _status(account: Account) -> Status:
    return Status(
        name=account.name,
        provider=account.provider,
        email=account.email,
        auth=account.auth,
        state=account.state,
        token_expires=account.token_expires_at,
        last_sync=account.last_sync_at,
        last_send=account.last_send_at,
        problem=account.last_error,
        daily_limit=account.daily_limit,
        per_minute_limit=account.per_minute_limit,
    )


def config_status(settings: Settings) -> Status | None:
    """The mailbox config.toml describes, as the workspace's default account (or None)."""
    smtp, imap = settings.smtp, settings.imap
    if not (smtp.username or imap.host or imap.maildir):
        return None
    command = smtp.oauth2_token_command or imap.oauth2_token_command
    return Status(
        name=records.DEFAULT,
        provider="imap",
        email=settings.sender.email,
        auth="token_command" if command else "password",
        state="configured",
        token_expires=None,
        last_sync=None,
        last_send=None,
        problem="",
        daily_limit=None,
        per_minute_limit=None,
        source="config.toml",
    )
