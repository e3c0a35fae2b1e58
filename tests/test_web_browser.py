"""The review flow in a real browser: Playwright driving Debian's Chromium against uvicorn.

Screenshots of the queue and of a draft page are saved under artifacts/ at the repo root.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outreach import users
from outreach.review import queue
from outreach.store import Store, open_store
from outreach.store.models import Revision
from outreach.web import create_app
from tests.llm_server import FakeLLMServer
from tests.services import missing
from tests.webutil import PASSWORD, XSS_NAME, Served, seed, settings_for

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing("chromium not installed: run make test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def site(workspace: Path, llm_server: FakeLLMServer) -> Iterator[tuple[Served, Store]]:
    store = open_store(f"sqlite:///{workspace / 'review.db'}")
    seed(store, drafts=4)
    app = create_app(settings_for(workspace, llm_server.base_url), store)
    with Served(app) as served:
        yield served, store
    store.close()


@pytest.fixture
def page(browser: Any, site: tuple[Served, Store]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    tab.dialogs = []

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append((dialog.type, dialog.message))
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    tab.on("dialog", on_dialog)
    yield tab
    context.close()


def log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/queue")
    assert "/login?next=/queue" in page.url
    page.fill("input[name=username]", "maria")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/queue")


def status(store: Store, draft_id: int) -> str:
    with store.session() as session:
        return queue.get_draft(session, draft_id).status


def test_review_flow_log_in_edit_approve_reject_regenerate(
    page: Any, site: tuple[Served, Store]
) -> None:
    served, store = site
    base = served.url
    log_in(page, base)
    assert page.locator("table.queue tbody tr").count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "queue-page.png"), full_page=True)

    # j selects the first row, Enter opens it.
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/drafts/1")
    assert page.locator("mark", has_text="Kafka").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "draft-page.png"), full_page=True)

    # e opens the editor with the cursor in the body.
    page.keyboard.press("e")
    assert page.evaluate("document.activeElement.name") == "body"
    page.fill("textarea[name=body]", "Hi Jamie,\n\nA shorter note from me.\n\nMaria")
    page.click("#edit button[type=submit]")
    page.wait_for_load_state()
    assert "Saved revision 2" in page.inner_text("main")
    assert page.locator(".diff ins").count() >= 1

    # a approves and moves on to the next draft.
    page.keyboard.press("a")
    page.wait_for_url(f"{base}/drafts/2")
    assert status(store, 1) == "approved"
    assert XSS_NAME in page.inner_text("h1")

    # r opens the reject form; the confirmation is the only dialog.
    page.keyboard.press("r")
    page.keyboard.type("Not a fit for this role")
    page.click("#reject button[type=submit]")
    page.wait_for_url(f"{base}/drafts/3")
    assert status(store, 2) == "rejected"

    # g regenerates with an instruction through the model.
    page.keyboard.press("g")
    page.keyboard.type("warmer, two sentences")
    page.click("#regenerate button[type=submit]")
    page.wait_for_load_state()
    assert "Regenerated: revision 2" in page.inner_text("main")
    with store.session() as session:
        revision = session.query(Revision).filter_by(draft_id=3, number=2).one()
        assert revision.instruction == "warmer, two sentences"
    assert [kind for kind, _ in page.dialogs] == ["confirm"]

    # j and k walk the pending drafts (1 and 2 are decided now); ? shows the shortcuts.
    page.keyboard.press("j")
    page.wait_for_url(f"{base}/drafts/4")
    page.keyboard.press("k")
    page.wait_for_url(f"{base}/drafts/3")
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()


def test_hostile_text_renders_as_text_and_no_dialog_fires(
    page: Any, site: tuple[Served, Store]
) -> None:
    served, _ = site
    log_in(page, served.url)
    assert XSS_NAME in page.inner_text("table.queue")
    page.goto(f"{served.url}/drafts/2")
    page.wait_for_load_state("networkidle")
    assert XSS_NAME in page.inner_text("h1")
    assert "<script>alert('body')</script>" in page.inner_text("#body")
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    assert page.dialogs == []


def test_approving_a_draft_that_changed_since_it_was_opened_shows_the_new_text(
    browser: Any, page: Any, site: tuple[Served, Store]
) -> None:
    served, store = site
    base = served.url
    with store.session() as session:
        users.add_user(session, "lena", PASSWORD)
    log_in(page, base)
    page.goto(f"{base}/drafts/1")  # maria has revision 1 open
    assert "revision 1" in page.inner_text(".draft .meta")

    # Meanwhile lena, in her own browser, saves revision 2.
    other = browser.new_context()
    lena = other.new_page()
    lena.goto(f"{base}/drafts/1")
    lena.fill("input[name=username]", "lena")
    lena.fill("input[name=password]", PASSWORD)
    lena.click("button[type=submit]")
    lena.wait_for_url(f"{base}/drafts/1")
    lena.click("#edit summary")
    lena.fill("textarea[name=body]", "Hi Jamie,\n\nLena's words, which Maria has not read.\n\nLena")
    lena.click("#edit button[type=submit]")
    lena.wait_for_load_state()
    assert "Saved revision 2" in lena.inner_text("main")
    other.close()

    # Maria presses a on the page she read: refused, and the page now shows revision 2.
    page.keyboard.press("a")
    page.wait_for_selector("#changed")
    assert "this draft changed since you opened it" in page.inner_text("#changed")
    assert "Lena's words, which Maria has not read." in page.inner_text("#body")
    assert "revision 2" in page.inner_text(".draft .meta")
    assert status(store, 1) == "pending"

    # Having read it, a approves revision 2 and moves on.
    page.keyboard.press("a")
    page.wait_for_url(f"{base}/drafts/2")
    with store.session() as session:
        draft = queue.get_draft(session, 1)
        assert (draft.status, draft.approved_by, draft.approved_revision) == (
            "approved",
            "maria",
            2,
        )
