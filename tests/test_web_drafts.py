"""The draft page shows what a draft was grounded in and its flags in words, marked in place."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outreach import users
from outreach.candidates.records import profile
from outreach.drafting.drafter import Drafter, DraftSpec, make_llm
from outreach.store import Store
from outreach.store.models import Candidate
from outreach.web import create_app
from tests.llm_server import FakeLLMServer
from tests.webutil import PASSWORD, log_in, settings_for

NOTES = """Went well:
- She sharded the ledger cleanly.
- Wrote the tests first. Talked about her pregnancy.
To work on:
- SQL window functions
"""
ROLE = {"title": "Senior Backend Engineer", "team": "The ledger team.", "must_haves": ["Go"]}


def make_drafts(store: Store, workspace: Path, specs: list[tuple[dict[str, Any], DraftSpec]],
                llm_url: str | None = None) -> list[int]:  # fmt: skip
    settings = settings_for(workspace, llm_url)
    if llm_url is None:  # template-only, whatever an earlier call wrote into config.toml
        settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"provider": "none"})}
        )
    with store.session() as session:
        if not users.count_users(session):
            users.add_user(session, "maria", PASSWORD)
        people = []
        for fields, _ in specs:
            candidate = Candidate(**fields)
            session.add(candidate)
            session.flush()
            people.append(profile(candidate))
    drafter = Drafter(settings, store, llm=make_llm(settings))

    async def run() -> list[int]:
        try:
            items = [(p, s) for p, (_, s) in zip(people, specs, strict=True)]
            return (await drafter.draft_items(items)).drafted
        finally:
            await drafter.aclose()

    return asyncio.run(run())


@pytest.fixture
def client(store: Store, workspace: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(workspace), store)) as test_client:
        yield test_client


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_feedback_page_shows_notes_role_fields_and_fallbacks(
    store: Store, workspace: Path, client: TestClient
) -> None:
    spec = DraftSpec(template="feedback_reject", role=ROLE, notes=NOTES, outcome="reject")
    (draft_id,) = make_drafts(store, workspace, [({"email": "x@example.org", "name": ""}, spec)])
    log_in(client)
    page = client.get(f"/drafts/{draft_id}").text
    grounds = text_of(page.split('id="grounds"')[1].split("</section>")[0])
    assert "Went well" in grounds and "You sharded the ledger cleanly" in grounds
    assert "SQL window functions" in grounds and "Must-haves: Go" in grounds
    assert "1 sentence about a personal topic left out" in grounds
    assert "pregnancy" not in page
    assert "The template's own text, not the model, fills: moments, pointers" in grounds
    flags = text_of(page.split('id="flags"')[1].split("</div>")[0])
    assert "No first name:" in flags and "no_name" not in page
    with store.session() as session:  # the JSON API shows the same grounds
        token = users.issue_token(session, users.web_secret(), "maria")
    detail = client.get(
        f"/api/drafts/{draft_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert detail["grounds"]["fallback_slots"] == ["moments", "pointers"]
    assert detail["grounds"]["notes"]["to_work_on"] == ["SQL window functions"]
    assert page.split('id="body">')[1].startswith("Hi,\n\nThank you for the time")


def test_flags_are_words_marked_in_place_and_cleared_when_edited_away(
    store: Store, workspace: Path, client: TestClient, llm_server: FakeLLMServer
) -> None:
    llm_server.default = lambda request: json.dumps({
        "hook": "Your ledger work at Paywise is close to what Tom Berger's team does.",
        "why": "The team needs Go, and you grew revenue by 40% last year.",
    })  # fmt: skip
    person = {"email": "jamie@paywise.example", "name": "Jamie Lind", "company": "Paywise",
              "skills": ["Go"], "achievements": ["Sharded the ledger at Paywise"]}  # fmt: skip
    (draft_id,) = make_drafts(
        store, workspace, [(person, DraftSpec(template="intro", role=ROLE))], llm_server.base_url
    )
    token = log_in(client)
    page = client.get(f"/drafts/{draft_id}").text
    flags = text_of(page.split('id="flags"')[1].split("</div>")[0])
    assert "Not in the inputs:" in flags or "A name not in the inputs:" in flags
    assert "A number not in the inputs:" in flags
    assert not re.search(r"<code>[a-z_]+</code>", page)  # no raw codes
    body = page.split('id="body">')[1].split("</div>")[0]
    marks = re.findall(r"<mark [^>]*>([^<]*)</mark>", body)
    assert "Tom Berger" in " ".join(marks) and "40%" in " ".join(marks)
    assert "None: the model wrote hook, why" in page
    assert "No first name" not in page  # Jamie has one
    edited = text_of(body).replace("Tom Berger's team does", "our team does")
    saved = client.post(
        f"/drafts/{draft_id}/save",
        data={"csrf_token": token, "subject": "Senior Backend Engineer", "body": edited},
    )
    assert saved.status_code == 200
    page = client.get(f"/drafts/{draft_id}").text
    body = page.split('id="body">')[1].split("</div>")[0]
    assert "Tom Berger" not in " ".join(re.findall(r"<mark [^>]*>([^<]*)</mark>", body))
    assert "40%" in " ".join(re.findall(r"<mark [^>]*>([^<]*)</mark>", body))
    cleared = text_of(page.split('id="flags-cleared"')[1].split("</p>")[0])
    assert "Tom Berger" in cleared
    listed = text_of(page.split('id="flags"')[1].split("</div>")[0])
    assert "Tom Berger" not in listed


@pytest.mark.browser
@pytest.mark.parametrize("width", [1360, 390])
def test_draft_page_in_chromium_desktop_and_phone(
    workspace: Path, llm_server: FakeLLMServer, width: int
) -> None:
    from outreach.store import open_store
    from tests.test_web_browser import ARGS, ARTIFACTS, CHROMIUM
    from tests.webutil import Served

    playwright_api = pytest.importorskip("playwright.sync_api")
    store = open_store(f"sqlite:///{workspace / 'shots.db'}")
    llm_server.default = lambda request: json.dumps({
        "hook": "Your ledger sharding at Paywise is close to what Tom Berger's team does.",
        "why": "The team needs Go, and you grew revenue by 40% last year.",
    })  # fmt: skip
    person = {"email": "jamie@paywise.example", "name": "Jamie Lind", "company": "Paywise",
              "skills": ["Go"], "achievements": ["Sharded the ledger at Paywise"]}  # fmt: skip
    role = {**ROLE, "why": "You would own the settlement engine end to end."}
    specs = [
        (person, DraftSpec(template="intro", role=role)),
        ({**person, "email": "sam@example.org", "name": "Sam Berg"},
         DraftSpec(template="feedback_reject", role=role, notes=NOTES, outcome="reject")),
    ]  # fmt: skip
    ids = make_drafts(store, workspace, specs[:1], llm_server.base_url)
    ids += make_drafts(store, workspace, specs[1:])
    app = create_app(settings_for(workspace, llm_server.base_url), store)
    with Served(app) as served, playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = chromium.new_context(viewport={"width": width, "height": 900}).new_page()
        page.goto(f"{served.url}/queue")
        page.fill("input[name=username]", "maria")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{served.url}/queue")
        ARTIFACTS.mkdir(exist_ok=True)
        for name, draft_id in zip(("intro", "feedback"), ids, strict=True):
            page.goto(f"{served.url}/drafts/{draft_id}")
            assert page.locator("#grounds").is_visible()
            wide = page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect()"
                ".right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className + '#' + "
                "e.id + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)"
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= width, wide
            page.screenshot(path=str(ARTIFACTS / f"drafts-{name}-{width}.png"), full_page=True)
            if name == "intro":
                assert page.locator("#flags .flag-label").count() == 3
                assert page.locator("#body mark").count() == 3
            else:
                assert page.locator("#grounds", has_text="You sharded the ledger").count() == 1
        chromium.close()
    store.close()
