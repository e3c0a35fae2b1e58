"""Every page in Chromium at desktop width and at 390 px: no sideways scroll, and axe-core
(vendored under tests/vendor/axe) finds no serious or critical WCAG 2.1 A/AA violation;
the main navigation and each page's first form are reachable with the Tab key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from outreach.candidates import search
from outreach.conversations import threads
from outreach.store import Store, open_store
from outreach.store.models import Candidate, Message, utcnow
from outreach.web import create_app
from tests.test_web_browser import browser, log_in  # noqa: F401  (fixture)
from tests.webutil import PASSWORD, Served, seed, settings_for

pytestmark = pytest.mark.browser
AXE = Path(__file__).parent / "vendor" / "axe" / "axe.min.js"
SHOTS = Path("/work/notes/shots")
WIDTHS = {"desktop": 1360, "phone": 390}
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, str]]]:
    from outreach.cli.workspace import write_workspace

    folder = tmp_path_factory.mktemp("a11y") / "ws"
    write_workspace(folder)
    store: Store = open_store(f"sqlite:///{folder / 'a11y.db'}")
    ids = seed(store, drafts=4)
    now = utcnow()
    with store.session() as session:
        jamie = session.get(Candidate, ids["jamie"])
        assert jamie is not None
        jamie.source = "GitHub"
        search.reindex(session)
        thread = threads.open_conversation(session, jamie.id, "Backend role", now, actor="t")
        for uid, direction, text in [(1, "out", "Hi Jamie, a role?"), (2, "in", "Yes, Thursday.")]:
            session.add(
                Message(
                    mailbox="m",
                    folder="INBOX",
                    uidvalidity=1,
                    uid=uid,
                    message_id=f"<{uid}@x>",
                    from_addr=jamie.email,
                    date=now + timedelta(minutes=uid),
                    subject="Re: Backend role",
                    direction=direction,
                    reply_text=text,
                    candidate_id=jamie.id,
                    conversation_id=thread.id,
                )  # fmt: skip
            )
        threads.touch(thread, now)
    pages = {
        "queue": "/queue",
        "draft": f"/drafts/{ids['drafts'][0]}",
        "conversations": "/conversations",
        "conversation": "/conversations/jamie@paywise.example",
        "campaigns": "/campaigns",
        "campaign": "/campaigns/backend-2026",
        "candidates": "/candidates",
        "candidate": f"/candidates/{ids['jamie']}",
        "expiring": "/candidates/expiring",
        "not-found": "/candidates/999999",
    }
    with Served(create_app(settings_for(folder), store)) as served:
        yield served, pages
    store.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:  # noqa: F811
    # The app's Content-Security-Policy allows no injected script; axe is the test's own.
    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def axe_problems(page: Any) -> list[str]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", RULES
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_and_passes_axe(
    tab: Any, site: tuple[Served, dict[str, str]], width: str
) -> None:
    served, pages = site
    tab.set_viewport_size({"width": WIDTHS[width], "height": 900})
    tab.goto(f"{served.url}/login")
    assert axe_problems(tab) == []
    tab.fill("input[name=username]", "maria")
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url("**/queue")
    problems: dict[str, Any] = {}
    for name, path in pages.items():
        tab.goto(served.url + path)
        wide = tab.evaluate("document.documentElement.scrollWidth")
        found = axe_problems(tab)
        if wide > WIDTHS[width]:
            found.append(f"{wide} px wide at a {WIDTHS[width]} px window")
        if found:
            problems[name] = found
        if SHOTS.parent.exists():
            SHOTS.mkdir(exist_ok=True)
            tab.screenshot(path=str(SHOTS / f"people-a11y-{name}-{width}.png"), full_page=True)
    assert problems == {}


def test_navigation_and_forms_are_reachable_by_keyboard(
    tab: Any, site: tuple[Served, dict[str, str]]
) -> None:
    served, pages = site
    tab.goto(f"{served.url}/login")
    if tab.evaluate("document.activeElement.name") != "username":  # unless it has autofocus
        tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.name") == "username"
    tab.keyboard.type("maria")
    tab.keyboard.press("Tab")
    tab.keyboard.type(PASSWORD)
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/queue")
    for name in ("candidates", "candidate", "conversations", "campaigns"):
        tab.goto(served.url + pages[name])
        reached = set()
        for _ in range(60):
            tab.keyboard.press("Tab")
            reached.add(
                tab.evaluate(
                    "document.activeElement.textContent.trim() || document.activeElement.name || ''"
                )
            )
        assert {"Review queue", "Candidates", "Conversations", "Campaigns"} <= reached, name
    tab.goto(served.url + pages["candidates"])
    for _ in range(12):
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.name") == "q":
            break
    tab.keyboard.type("kafka")
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/candidates?q=kafka*")
    with_jamie = tab.locator("table tbody tr")
    assert with_jamie.count() == 1
