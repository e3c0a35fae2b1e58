"""OAuth2 with Google and Microsoft through Authlib: endpoints, code exchange, refresh, revoke.

Authlib covers both providers with one standard client (authorization code with PKCE,
refresh, revocation, and the device grant as a plain token request), so one code path serves
both. MSAL would add a second, Microsoft-only path with its own token cache, and it insists
on Microsoft's authority URLs, which a local test server cannot stand in for.

Every answer from a token endpoint becomes one of: a ``Tokens`` value, ``GrantRefused``
(invalid_grant: the grant is gone, the person must sign in again), ``AppRefused`` (the app's
client id or secret is wrong: config.toml), or ``Unreachable`` (network, 5xx, 429, a reply
that is not OAuth JSON: try again later, the grant is fine).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError

from outreach.config import Settings, oauth_client_secret

TIMEOUT = 30.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_LIFETIME = 24 * 3600  # seconds; no access token lives longer than a day


@dataclass(frozen=True)
class OAuthApp:
    """A registered app and the provider's endpoints."""

    provider: str  # google | microsoft
    label: str
    client_id: str
    client_secret: str | None
    authorize_url: str
    token_url: str
    device_url: str
    revoke_url: str
    scope: str
    redirect_host: str  # the loopback host the provider accepts in redirect URIs
    authorize_params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tokens:
    """A token endpoint's answer; ``lifetime`` in seconds, relative to when it was received."""

    access_token: str
    refresh_token: str | None
    lifetime: float
    scope: str


class GrantRefused(Exception):
    """invalid_grant: the refresh token (or code) is revoked, expired or used up."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class AppRefused(Exception):
    """invalid_client and friends: the app registration or its secret is wrong."""


class Unreachable(Exception):
    """The token endpoint did not give an OAuth answer; try again later."""


def oauth_app(settings: Settings, provider: str) -> OAuthApp:
    """The app and endpoints for google or microsoft from config.toml and the secrets."""
    from outreach.errors import ConfigError

    if provider == "google":
        # Installed apps: https://developers.google.com/identity/protocols/oauth2/native-app
        # Scope for IMAP/SMTP: https://developers.google.com/gmail/imap/xoauth2-protocol
        g = settings.google
        app = OAuthApp(
            provider="google",
            label="Google",
            client_id=g.client_id,
            client_secret=oauth_client_secret("google"),
            authorize_url=g.authorize_url or "https://accounts.google.com/o/oauth2/v2/auth",
            token_url=g.token_url or "https://oauth2.googleapis.com/token",
            device_url=g.device_url or "https://oauth2.googleapis.com/device/code",
            revoke_url=g.revoke_url or "https://oauth2.googleapis.com/revoke",
            scope="https://mail.google.com/",
            redirect_host="127.0.0.1",
            # offline: a refresh token; consent: a new one even when the app was allowed before
            authorize_params={"access_type": "offline", "prompt": "consent"},
        )
    elif provider == "microsoft":
        # https://learn.microsoft.com/en-us/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
        m = settings.microsoft
        base = f"https://login.microsoftonline.com/{m.tenant}/oauth2/v2.0"
        app = OAuthApp(
            provider="microsoft",
            label="Microsoft",
            client_id=m.client_id,
            client_secret=oauth_client_secret("microsoft"),
            authorize_url=m.authorize_url or f"{base}/authorize",
            token_url=m.token_url or f"{base}/token",
            device_url=m.device_url or f"{base}/devicecode",
            revoke_url=m.revoke_url,  # Microsoft offers apps no revocation endpoint
            scope="https://outlook.office.com/IMAP.AccessAsUser.All "
            "https://outlook.office.com/SMTP.Send offline_access",
            redirect_host="localhost",  # what the Entra portal registers for public clients
            authorize_params={"prompt": "select_account"},
        )
    else:
        raise ConfigError(f"{provider!r} has no OAuth sign-in; use a password for it")
    if not app.client_id:
        raise ConfigError(
            f"[{provider}] client_id is empty in config.toml: register an app with "
            f"{app.label} (docs/oauth.md) and put its client id there"
        )
    return app


def _client(app: OAuthApp, **kwargs: Any) -> OAuth2Client:
    method = "client_secret_post" if app.client_secret else "none"
    return OAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        scope=app.scope,
        timeout=TIMEOUT,
        **kwargs,
    )


def new_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43 to 128 unreserved characters)."""
    return str(generate_token(64))


def new_state() -> str:
    """An unguessable state value for one sign-in."""
    return secrets.token_urlsafe(24)


def authorization_url(
    app: OAuthApp, *, redirect_uri: str, state: str, verifier: str, login_hint: str
) -> str:
    """The URL that asks the person to sign in and allow mail access (PKCE S256)."""
    with _client(app, redirect_uri=redirect_uri, code_challenge_method="S256") as client:
        url, _ = client.create_authorization_url(
            app.authorize_url,
            state=state,
            code_verifier=verifier,
            login_hint=login_hint,
            **app.authorize_params,
        )
    return str(url)


def _tokens(raw: dict[str, Any], old_refresh: str | None = None) -> Tokens:
    access = raw.get("access_token")
    if not isinstance(access, str) or not access:
        raise Unreachable("the token endpoint answered without an access_token")
    refresh = raw.get("refresh_token")
    return Tokens(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else old_refresh,
        lifetime=lifetime(raw),
        scope=str(raw.get("scope") or ""),
    )


def lifetime(raw: dict[str, Any]) -> float:
    """Seconds the access token lives, from ``expires_in`` (RFC 6749 §5.1: relative seconds).

    Some servers send it as a string ("3599"); a missing one is taken as an hour; anything
    beyond a day is capped, so a server that sends milliseconds or a timestamp by mistake
    cannot make us use a token for years (its refusal would still trigger one refresh).
    Authlib's own ``expires_at`` is ignored: it is reckoned from the wall clock, ours from
    the clock the caller passed in.
    """
    value = raw.get("expires_in")
    try:
        seconds = float(value) if value is not None else 3600.0
    except (TypeError, ValueError):
        seconds = 3600.0
    return max(0.0, min(seconds, MAX_LIFETIME))


def _call(action: Any) -> dict[str, Any]:
    """Run a token request; turn its failures into GrantRefused, AppRefused or Unreachable."""
    try:
        raw = action()
    except OAuthError as exc:
        error = str(exc.error or "")
        description = str(exc.description or "")
        if error == "invalid_grant":
            raise GrantRefused(description) from None
        if error in {"invalid_client", "unauthorized_client", "invalid_scope"}:
            raise AppRefused(f"{error}: {description}".rstrip(": ")) from None
        raise Unreachable(f"{error}: {description}".rstrip(": ")) from None
    except httpx2.HTTPStatusError as exc:
        raise Unreachable(f"HTTP {exc.response.status_code}") from None
    except (httpx2.HTTPError, ValueError) as exc:
        raise Unreachable(str(exc) or type(exc).__name__) from None
    return dict(raw)


def exchange_code(app: OAuthApp, *, code: str, redirect_uri: str, verifier: str) -> Tokens:
    """Trade an authorization code (and its PKCE verifier) for tokens."""
    with _client(app, redirect_uri=redirect_uri) as client:
        raw = _call(
            lambda: client.fetch_token(
                app.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
                redirect_uri=redirect_uri,
            )
        )
    return _tokens(raw)


def refresh(app: OAuthApp, refresh_token: str) -> Tokens:
    """A new access token from the refresh token (and a new refresh token where rotated)."""
    with _client(app) as client:
        raw = _call(lambda: client.refresh_token(app.token_url, refresh_token=refresh_token))
    return _tokens(raw, old_refresh=refresh_token)


def revoke(app: OAuthApp, token: str) -> int | None:
    """Ask the provider to revoke a refresh token; its HTTP status, None when unreachable."""
    if not app.revoke_url:
        return None
    with _client(app) as client:
        try:
            response = client.revoke_token(app.revoke_url, token, token_type_hint="refresh_token")
        except httpx2.HTTPError:
            return None
    return int(response.status_code)


@dataclass(frozen=True)
class DeviceCode:
    """A device-code sign-in in progress (RFC 8628)."""

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float


def start_device(app: OAuthApp) -> DeviceCode:
    """Ask for a user code the person enters on another device."""
    with _client(app) as client:

        def ask() -> dict[str, Any]:
            response = client.request(
                "POST",
                app.device_url,
                data={"client_id": app.client_id, "scope": app.scope},
                withhold_token=True,  # no access token yet: this asks for the first one
            )
            data = response.json()
            if "error" in data:
                raise OAuthError(data["error"], data.get("error_description"))
            response.raise_for_status()
            return dict(data)

        raw = _call(ask)
    # Google names it verification_url, RFC 8628 and Microsoft verification_uri.
    uri = raw.get("verification_uri") or raw.get("verification_url") or ""
    return DeviceCode(
        device_code=str(raw["device_code"]),
        user_code=str(raw["user_code"]),
        verification_uri=str(uri),
        expires_in=float(raw.get("expires_in") or 900),
        interval=float(raw.get("interval") or 5),
    )


def poll_device(app: OAuthApp, device: DeviceCode) -> Tokens | str:
    """One poll: the tokens, or the pending reason (authorization_pending, slow_down)."""
    with _client(app) as client:
        try:
            raw = _call(
                lambda: client.fetch_token(
                    app.token_url, grant_type=DEVICE_GRANT, device_code=device.device_code
                )
            )
        except Unreachable as exc:
            reason = str(exc).split(":", 1)[0]
            if reason in {"authorization_pending", "slow_down"}:
                return reason
            raise
    return _tokens(raw)
