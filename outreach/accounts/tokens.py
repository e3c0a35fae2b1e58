"""Access tokens from an account's saved OAuth grant (the command kind is in ``source``).

``token()`` returns an access token; ``token(refused=T)`` is called once after a server turned
token T down, and refreshes unless another process already did. An OAuth access token is
refreshed ahead of its expiry: a tenth of its lifetime before, at most five minutes, so a
short-lived token is not refreshed on every call (the refresh storm of tools that compare a
lifetime in seconds with a clock in milliseconds, or an absolute time with a relative one).
Expiry is stored as an aware UTC datetime, never as a bare number.

A refused grant (invalid_grant) marks the account ``reconnect`` with one line saying what to
run; from then on the helper answers that line at once, without asking the provider again,
until ``outreach account connect``. An unreachable token endpoint (network, 5xx, 429, a 401
without an OAuth error) leaves the grant alone: the next run tries again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from outreach.accounts import oauth, records, vault
from outreach.accounts.oauth import OAuthApp
from outreach.accounts.presets import preset
from outreach.accounts.signin import app_refused
from outreach.config import Clock, Settings
from outreach.errors import ConfigError, SignInError, SignInUnavailable
from outreach.store import Store
from outreach.store.locks import exclusive
from outreach.store.models import Account, utcnow

MAX_MARGIN = timedelta(minutes=5)
GOOGLE_TESTING_DAYS = 7  # https://developers.google.com/identity/protocols/oauth2#expiration
MICROSOFT_IDLE_DAYS = 90  # https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens


class GrantToken:
    """Access tokens from an account's saved OAuth grant, refreshed and saved back."""

    def __init__(self, store: Store, settings: Settings, name: str, *, now: Clock = utcnow) -> None:
        self.store = store
        self.settings = settings
        self.name = name
        self.now = now

    def token(self, refused: str | None = None) -> str:
        """A valid access token: the saved one while it lasts, else a refreshed one."""
        current = self._usable(refused)
        if current is not None:
            return current
        busy = SignInUnavailable(f"account {self.name}: another process is refreshing its sign-in")
        with exclusive(self.store, "signin", self.name, busy, patience=oauth.TIMEOUT):
            current = self._usable(refused)  # someone may have refreshed while we waited
            if current is not None:
                return current
            return self._refresh()

    def _usable(self, refused: str | None) -> str | None:
        """The saved access token if it is not near expiry and not the refused one."""
        with self.store.session() as session:
            account = records.get_account(session, self.name)
            if account.state == records.RECONNECT:
                raise SignInError(account.last_error or reconnect_line(account, "", self.now()))
            if account.auth != "oauth2" or account.secret is None:
                raise SignInError(
                    f"account {self.name} is not signed in: run `outreach account connect "
                    f"{self.name}`"
                )
            grant = vault.unseal(account.secret, account.name)
            access = grant.get("access_token")
            if not access or access == refused or account.token_expires_at is None:
                return None
            if self.now() >= account.token_expires_at - margin(account):
                return None
            return str(access)

    def _refresh(self) -> str:
        now = self.now()
        with self.store.session() as session:
            account = records.get_account(session, self.name)
            grant = vault.unseal(account.secret or b"", account.name)
            provider, email = account.provider, account.email
        app = app_for(self.settings, provider)
        try:
            tokens = oauth.refresh(app, str(grant.get("refresh_token") or ""))
        except oauth.GrantRefused as exc:
            with self.store.session() as session:
                account = records.get_account(session, self.name)
                line = reconnect_line(account, exc.description, now)
                records.mark_reconnect(session, account, line, now=now, actor="signin")
            raise SignInError(line) from None
        except oauth.AppRefused as exc:
            raise ConfigError(app_refused(app, str(exc))) from None
        except oauth.Unreachable as exc:
            raise SignInUnavailable(
                f"{app.label} sign-in for {email} is not reachable just now ({exc}); "
                "the next run tries again"
            ) from None
        with self.store.session() as session:
            account = records.get_account(session, self.name)
            records.store_refreshed(session, account, tokens, now=now)
        return tokens.access_token


def margin(account: Account) -> timedelta:
    """How long before expiry to refresh: a tenth of the token's lifetime, at most 5 minutes."""
    if account.token_expires_at is None or account.refreshed_at is None:
        return MAX_MARGIN
    lifetime = account.token_expires_at - account.refreshed_at
    return max(timedelta(0), min(MAX_MARGIN, lifetime / 10))


def app_for(settings: Settings, provider: str) -> OAuthApp:
    """The OAuth app that signs in accounts of this provider."""
    return oauth.oauth_app(settings, preset(provider).oauth or provider)


def reconnect_line(account: Account, description: str, now: datetime) -> str:
    """The one line for a refused grant: who refused, which address, what to run, and why."""
    label = {"gmail": "Google", "microsoft": "Microsoft"}.get(account.provider, "The provider")
    line = (
        f"{label} refused the saved sign-in for {account.email}: "
        f"run `outreach account connect {account.name}`"
    )
    age = now - account.granted_at if account.granted_at else timedelta(0)
    idle = now - account.refreshed_at if account.refreshed_at else timedelta(0)
    if account.provider == "gmail" and age >= timedelta(days=GOOGLE_TESTING_DAYS):
        line += (
            f' (signed in {age.days} days ago: Google ends the sign-ins of apps in "Testing" '
            "status after 7 days; publish the app to stop this, see docs/oauth.md)"
        )
    elif account.provider == "microsoft" and (
        "AADSTS700082" in description or idle >= timedelta(days=MICROSOFT_IDLE_DAYS)
    ):
        line += " (Microsoft ends a sign-in that was not used for 90 days)"
    elif description:
        line += f" ({description.splitlines()[0][:160]})"
    return line
