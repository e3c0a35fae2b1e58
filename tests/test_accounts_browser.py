"""The first sign-in as a person does it: Chromium opens the provider's page, the person
allows access, the browser is redirected to outreach's loopback listener."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outreach.accounts import records, service, transport
from outreach.store import Store
from tests.accounts_kit import add_oauth_account, oauth_settings
from tests.services import missing
from tests.services.dovecot import Dovecot
from tests.services.oauth import OAuthServer
from tests.test_web_browser import ARGS, ARTIFACTS, CHROMIUM  # one way to launch Chromium

pytestmark = [pytest.mark.browser, pytest.mark.dovecot]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing("chromium not installed: run make test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_in_through_the_browser(
    chromium: Any,
    store: Store,
    oauth_server: OAuthServer,
    dovecot_oauth: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = oauth_settings(oauth_server, monkeypatch)
    user = dovecot_oauth.new_user()
    add_oauth_account(store, "maria", user, dovecot_oauth)
    context = chromium.new_context(viewport={"width": 900, "height": 600})
    page = context.new_page()
    seen: dict[str, str] = {}

    def person(url: str) -> None:
        page.goto(url)
        seen["consent"] = page.inner_text("h1")
        assert page.input_value("input[name=user]") == user  # the login hint
        page.click("#allow")
        page.wait_for_selector("text=You are signed in")
        seen["done"] = page.inner_text("body")
        seen["at"] = page.url
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "account-signed-in.png"))

    try:
        service.connect(
            store, settings, "maria", open_url=person, show_code=lambda u, c: None, timeout=30
        )
    finally:
        context.close()
    assert seen["consent"] == "outreach wants to read and send your mail"
    assert "go back to the terminal" in seen["done"]
    assert seen["at"].startswith("http://127.0.0.1:") and "code=" in seen["at"]
    with store.session() as session:
        assert records.get_account(session, "maria").state == "connected"
    box = transport.imap_mailbox(store, settings, "maria")  # XOAUTH2 against Dovecot
    try:
        assert box.select("INBOX").exists == 0
    finally:
        box.close()
