"""Shared by the account tests: settings that point the providers at the test server, and a
"browser" (plain HTTP) that submits the consent page."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from outreach.accounts import records, service
from outreach.accounts.records import Servers
from outreach.config import Settings, settings_from_dict
from outreach.store import Store
from outreach.store.models import Account, utcnow
from tests.services.dovecot import Dovecot
from tests.services.oauth import CLIENT_ID, CLIENT_SECRET, PUBLIC_ID, OAuthServer

QUERY = re.compile(r'name="query" value="([^"]+)"')


def endpoints(server: OAuthServer) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "authorize_url": f"{server.url}/authorize",
        "token_url": f"{server.url}/token",
        "device_url": f"{server.url}/device/code",
        "revoke_url": f"{server.url}/revoke",
    }


def oauth_settings(server: OAuthServer, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Settings:
    """Settings whose Google and Microsoft apps live on the test server (secret in the env)."""
    monkeypatch.setenv("OUTREACH_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
    # A public client without a secret and without a revocation endpoint, like Microsoft's.
    microsoft = {**endpoints(server), "client_id": PUBLIC_ID, "revoke_url": ""}
    data = {"google": endpoints(server), "microsoft": microsoft, **extra}
    return settings_from_dict(data, path=Path("/nonexistent/config.toml"))


def consent(url: str, user: str, *, allow: bool = True) -> httpx.Response:
    """Do what the person does in the browser: open the URL, press Allow; follow the redirect."""
    page = httpx.get(url, timeout=10)
    page.raise_for_status()
    query = html.unescape(QUERY.search(page.text).group(1))  # type: ignore[union-attr]
    action = {"allow": "1"} if allow else {"deny": "1"}
    answer = httpx.post(
        url.split("/authorize")[0] + "/authorize",
        data={"query": query, "user": user, **action},
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return httpx.get(answer.headers["location"], timeout=10)


def add_oauth_account(
    store: Store,
    name: str,
    user: str,
    dovecot: Dovecot | None = None,
    *,
    provider: str = "gmail",
    smtp_port: int | None = None,
) -> Account:
    """An OAuth account for a Dovecot user, its servers on loopback."""
    servers = Servers(
        imap_host="127.0.0.1" if dovecot else "",
        imap_port=dovecot.port if dovecot else None,
        imap_security="none",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port or 25,
        smtp_security="none",
    )
    with store.session() as session:
        return records.add_account(session, name, provider=provider, email=user, servers=servers)


def connect(store: Store, settings: Settings, name: str, user: str, now: Any = utcnow) -> Account:
    """Connect through the loopback redirect, the consent page submitted over plain HTTP."""
    pages: list[httpx.Response] = []
    account = service.connect(
        store,
        settings,
        name,
        open_url=lambda url: pages.append(consent(url, user)),
        show_code=lambda url, code: None,
        timeout=10,
        now=now,
    )
    assert "You are signed in" in pages[0].text
    return account


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or utcnow()

    def __call__(self) -> datetime:
        return self.at
