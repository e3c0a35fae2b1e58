"""The outbox page in Chromium: why a message waits, a refused one retried until it arrives, an
uncertain one settled; the background loops' health on every page.

Real parts: scripted SMTP servers on loopback (tests/services/smtp.py) refuse with 552 or hang
up after the body; the sender is the one `outreach send` runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outreach import users
from outreach.jobs import health
from outreach.review import queue
from outreach.sending import freezing
from outreach.sending import outbox as sending
from outreach.sending.sender import run_sender
from outreach.store import Store
from outreach.store.models import utcnow
from outreach.web import create_app
from tests import outbox_kit as kit
from tests.services.smtp import Fault, FaultServer
from tests.test_web_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.webutil import PASSWORD, Served, csrf_of, log_in

SHOTS = Path("/work/notes/shots")
CAPPED = {"working_hours": "always", "min_gap_seconds": 0, "jitter_seconds": 0, "daily_cap": 1}


def send(store: Store, server: FaultServer) -> None:
    """Run the sender once (in a thread of its own: Playwright's loop runs in this one)."""
    run = partial(asyncio.run, run_sender(store, kit.settings(server.port), clock=utcnow))
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


@pytest.fixture
def outbox(store: Store, fault_smtp: Any) -> Iterator[tuple[Store, FaultServer, dict[str, int]]]:
    """A refused message (552), an uncertain one (hang-up after the body) and one that waits
    for the daily cap (1 a day, and the uncertain one counts); on SQLite and PostgreSQL."""
    with store.session() as session:
        users.add_user(session, "maria", PASSWORD)
    refusing = fault_smtp(Fault.DATA_552, fail_times=1)
    hanging = fault_smtp(Fault.CLOSE_AFTER_BODY, fail_times=1)
    ids = {"failed": kit.add_draft(store, "ann@example.com", name="Ann Refused")}
    send(store, refusing)
    ids["uncertain"] = kit.add_draft(store, "ben@example.com", name="Ben Unsure")
    send(store, hanging)
    ids["waiting"] = kit.add_draft(store, "cy@example.com", name="Cy Later")
    with store.session() as session:
        freezing.enqueue(
            session, queue.get_draft(session, ids["waiting"]), kit.settings(), actor="maria",
            now=utcnow(),
        )  # fmt: skip
    states = {kind: kit.states(store)[draft] for kind, draft in ids.items()}
    assert states == {"failed": "failed", "uncertain": "uncertain", "waiting": "queued"}
    yield store, refusing, ids


def entry_of(store: Store, draft_id: int) -> kit.OutboxEntry:
    return next(e for e in kit.entries(store) if e.draft_id == draft_id)


def test_the_page_shows_why_retries_and_resolves(
    browser: Any,  # noqa: F811
    outbox: tuple[Store, FaultServer, dict[str, int]],
) -> None:
    store, refusing, ids = outbox
    for component, detail in [("sender", "sent 1"), ("sync", "synced"), ("watch", "IDLE on INBOX")]:
        health.record_success(store, component, now=utcnow(), next_try=None, detail=detail)
    app = create_app(kit.settings(pacing=CAPPED), store)
    with Served(app) as served:
        base = served.url
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{base}/login?next=/outbox")
        page.fill("input[name=username]", "maria")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/outbox")
        failed = entry_of(store, ids["failed"])
        waiting = page.inner_text(f"#entry-{entry_of(store, ids['waiting']).id}")
        assert "Cy Later" in waiting and "daily cap reached (1/day), next slot" in waiting
        refused = page.inner_text(f"#entry-{failed.id}")
        assert "552 5.3.4 message too big for fault.test" in refused
        unsure = page.inner_text(f"#entry-{entry_of(store, ids['uncertain']).id}")
        assert "Ben Unsure" in unsure
        strip = page.inner_text(".health-strip")
        assert "watch live (IDLE)" in strip and "sender ok" in strip
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "outbox-desktop.png"), full_page=True)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        small = phone.new_page()
        small.context.add_cookies(context.cookies())
        small.goto(f"{base}/outbox")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        small.screenshot(path=str(SHOTS / "outbox-390.png"), full_page=True)
        phone.close()

        # Retry the refused message: it is queued again, and the sender delivers it.
        page.click(f"#entry-{failed.id} button:has-text('Retry')")
        page.wait_for_url(f"{base}/outbox#waiting")
        assert "queued again" in page.inner_text("main")
        assert entry_of(store, ids["failed"]).state == sending.QUEUED
        send(store, refusing)
        arrived = {m.rcpt_tos: kit.parse(m.data) for m in refusing.messages}
        assert arrived[("ann@example.com",)]["Message-ID"] == failed.message_id
        assert entry_of(store, ids["failed"]).state == sending.SENT

        # The uncertain one: it did arrive, says the recruiter.
        uncertain = entry_of(store, ids["uncertain"])
        page.goto(f"{base}/outbox")
        page.click(f"#entry-{uncertain.id} button:has-text('It was sent')")
        page.wait_for_url(f"{base}/outbox")
        assert "marked as sent" in page.inner_text("main")
        assert entry_of(store, ids["uncertain"]).state == sending.SENT
        assert "Ben Unsure" in page.inner_text("#sent")
        context.close()


def test_resend_of_an_uncertain_message_asks_and_queues_it(
    outbox: tuple[Store, FaultServer, dict[str, int]],
) -> None:
    store, _, ids = outbox
    client = TestClient(create_app(kit.settings(), store))
    log_in(client)
    token = csrf_of(client.get("/outbox").text)
    uncertain = entry_of(store, ids["uncertain"])
    nothing = client.post(f"/outbox/{uncertain.id}/resolve", data={"csrf_token": token})
    assert "Say what happened" in nothing.text
    assert entry_of(store, ids["uncertain"]).state == sending.UNCERTAIN
    again = client.post(
        f"/outbox/{uncertain.id}/resolve", data={"csrf_token": token, "decision": "resend"}
    )
    assert "queued to be sent again" in again.text
    assert entry_of(store, ids["uncertain"]).state == sending.QUEUED
    twice = client.post(f"/outbox/{uncertain.id}/retry", data={"csrf_token": token})
    assert "nothing to retry" in twice.text


def test_every_page_names_a_failing_loop(
    outbox: tuple[Store, FaultServer, dict[str, int]],
) -> None:
    store, _, _ = outbox
    later = utcnow()
    health.record_failure(store, "sync", "imap 127.0.0.1:1: cannot connect", now=later, next_try=later)  # fmt: skip
    client = TestClient(create_app(kit.settings(), store))
    log_in(client)
    for path in ("/queue", "/outbox", "/conversations"):
        text = client.get(path).text
        assert "sync failing" in text and "cannot connect" in text, path
