"""A reply that arrives after a follow-up was approved, before it went out, holds it; the
reviewer sees why in Chromium and chooses: send anyway, rewrite, or drop.

Real parts: the replies go to Dovecot over LMTP and `run_sync` reads them; the follow-up sent
anyway arrives at an SMTP server on loopback; the rewrite goes to the fake model server.
Rejecting a campaign step asks what next (skip, stop, rewrite), through the web form.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach import users
from outreach.config import Settings, load_config
from outreach.inbox.sync import run_sync
from outreach.mail.messages import new_message_id
from outreach.review import queue
from outreach.sending import freezing
from outreach.sending.pacing import Pacing
from outreach.sending.sender import run_sender
from outreach.store import Store, open_store
from outreach.store.models import (
    Campaign,
    Candidate,
    Draft,
    Enrolment,
    OutboxEntry,
    Revision,
    utcnow,
)
from outreach.web import create_app
from tests import inbox_kit as kit
from tests import outbox_kit
from tests.llm_server import FakeLLMServer
from tests.test_cli import run
from tests.test_cli_inbox import configure
from tests.test_drafting import use_model
from tests.test_web_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.webutil import PASSWORD, Served, csrf_of, log_in

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot
    from tests.services.smtp import CaptureServer

SHOTS = Path("/work/notes/shots")
NAMES = ["ana@paywise.example", "kim@nope.example", "leo@corp.example"]


@pytest.fixture
def held(
    workspace: Path,
    dovecot: Dovecot,
    llm_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Settings, Store, dict[str, kit.Person]]]:
    """Three candidates whose follow-ups maria approved; then each of them replied."""
    user = dovecot.new_user()
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    configure(workspace, dovecot, user)
    use_model(workspace, llm_server.base_url)
    settings = load_config(workspace / "config.toml")
    store = open_store(settings.database_url)
    people = kit.add_people(store, NAMES)
    with store.session() as session:
        users.add_user(session, "maria", PASSWORD)
        for person in people.values():
            follow_up = queue.get_draft(session, person.follow_up_id)
            queue.approve(session, follow_up, actor="maria", message_id=new_message_id(kit.RECRUITER))  # fmt: skip
        # Ana's waits in the outbox for its slot: the news takes it out again.
        ana = queue.get_draft(session, people[NAMES[0]].follow_up_id)
        freezing.enqueue(session, ana, settings, actor="maria", now=utcnow())
    for n, person in enumerate(people.values(), 1):
        answer = f"Thanks, I am interested ({n})."
        dovecot.deliver(user, kit.gmail_reply(person.email, f"<held{n}@x>", answer, person.message_id))  # fmt: skip
    run_sync(settings, store)
    yield settings, store, people
    store.close()


def draft(store: Store, draft_id: int) -> Draft:
    with store.read() as session:
        return queue.get_draft(session, draft_id)


def test_a_reply_after_approval_holds_the_follow_up_and_the_reviewer_chooses(
    browser: Any,  # noqa: F811
    held: tuple[Settings, Store, dict[str, kit.Person]],
    smtp_capture: CaptureServer,
) -> None:
    settings, store, people = held
    ana, kim, leo = (people[email] for email in NAMES)
    with store.read() as session:
        pulled = session.scalars(select(OutboxEntry).where(OutboxEntry.draft_id == ana.follow_up_id)).one()  # fmt: skip
    assert pulled.state == "cancelled" and pulled.wait_reason.startswith("held: Ana replied on ")
    for person in (ana, kim, leo):
        row = draft(store, person.follow_up_id)
        assert row.status == queue.PENDING
        first = person.name.split()[0]
        assert row.hold_reason.startswith(f"{first} replied on ")
        assert row.hold_reason.endswith(", after you approved this")
    with Served(create_app(settings, store)) as served:
        base = served.url
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{base}/login?next=/drafts/{ana.follow_up_id}")
        page.fill("input[name=username]", "maria")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/drafts/{ana.follow_up_id}")
        notice = page.inner_text("#held")
        assert draft(store, ana.follow_up_id).hold_reason in notice
        for choice in ("Send anyway", "Rewrite…", "Drop"):
            assert page.locator("#held").get_by_text(choice).is_visible(), choice
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "outbox-held-desktop.png"), full_page=True)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        small = phone.new_page()
        small.context.add_cookies(context.cookies())
        small.goto(f"{base}/drafts/{ana.follow_up_id}")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        small.locator("#held").screenshot(path=str(SHOTS / "outbox-held-390.png"))
        phone.close()

        # Send anyway: approved again by maria, and the sender delivers it.
        page.click("#held button:has-text('Send anyway')")
        page.wait_for_load_state()
        sent_anyway = draft(store, ana.follow_up_id)
        assert (sent_anyway.status, sent_anyway.hold_reason) == (queue.APPROVED, "")
        now = Pacing.from_settings(outbox_kit.settings())  # send at once: no working hours
        sender = run_sender(store, settings, clock=utcnow, smtp=smtp_capture.settings(), pacing=now)
        run = partial(asyncio.run, sender)
        with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
            pool.submit(run).result()
        assert [m.rcpt_tos for m in smtp_capture.messages] == [(ana.email,)]

        # Drop: cancelled with the news as the reason.
        page.goto(f"{base}/drafts/{kim.follow_up_id}")
        page.click("#held button:has-text('Drop')")
        page.wait_for_load_state()
        dropped = draft(store, kim.follow_up_id)
        assert dropped.status == queue.CANCELLED
        assert dropped.reject_reason.startswith("dropped by maria: Kim replied on ")

        # Rewrite: the model writes a new revision following the news; it stays held.
        page.goto(f"{base}/drafts/{leo.follow_up_id}")
        page.click("#held summary:has-text('Rewrite')")
        instruction = page.input_value("#held input[name=instruction]")
        assert instruction.startswith("Leo replied on ")
        page.click("#held button:has-text('Rewrite')")
        page.wait_for_selector("text=Rewritten as revision 2")
        with store.read() as session:
            newest = session.scalars(
                select(Revision)
                .where(Revision.draft_id == leo.follow_up_id)
                .order_by(Revision.number.desc())  # fmt: skip
            ).first()
        assert newest is not None and newest.number == 2 and newest.instruction == instruction
        assert draft(store, leo.follow_up_id).status == queue.PENDING
        context.close()
    assert len(smtp_capture.messages) == 1  # nothing else went out


@pytest.fixture
def steps(store: Store) -> dict[str, int]:
    return make_steps(store)


def make_steps(store: Store) -> dict[str, int]:
    """A three-step campaign; step 2 drafted for two people after step 1 went out."""
    with store.session() as session:
        users.add_user(session, "maria", PASSWORD)
        campaign = Campaign(
            name="backend", sender_email=kit.RECRUITER, status="active",
            steps=[{"template": "intro", "wait_days": 0}, {"template": "nudge", "wait_days": 3},
                   {"template": "last", "wait_days": 5}],
        )  # fmt: skip
        session.add(campaign)
        session.flush()
        ids: dict[str, int] = {}
        for name in ("ann", "bob"):
            person = Candidate(email=f"{name}@paywise.example", name=name.title())
            session.add(person)
            session.flush()
            enrolment = Enrolment(
                campaign_id=campaign.id, candidate_id=person.id, step=1, status="active",
                last_sent_at=utcnow() - timedelta(days=4),
            )  # fmt: skip
            session.add(enrolment)
            session.flush()
            step = queue.create_draft(
                session,
                queue.NewDraft(
                    candidate_id=person.id, kind="follow_up", template="nudge",
                    subject="Re: Backend", body="Hi again", author="template",
                    campaign_id=campaign.id, step=1, enrolment_id=enrolment.id,
                ),
            )  # fmt: skip
            ids[name], ids[f"{name}_enrolment"] = step.id, enrolment.id
    return ids


def test_rejecting_a_step_asks_what_next(store: Store, steps: dict[str, int]) -> None:
    settings = outbox_kit.settings()
    client = TestClient(create_app(settings, store))
    log_in(client)
    page = client.get(f"/drafts/{steps['ann']}").text
    assert "Skip this step" in page and "Stop this person" in page
    token = csrf_of(page)
    unsaid = client.post(f"/drafts/{steps['ann']}/reject", data={"csrf_token": token, "reason": "too soon"})  # fmt: skip
    assert "say what comes next" in unsaid.text
    assert draft(store, steps["ann"]).status == queue.PENDING
    client.post(f"/drafts/{steps['ann']}/reject", data={"csrf_token": token, "reason": "too soon", "then": "skip"})  # fmt: skip
    client.post(f"/drafts/{steps['bob']}/reject", data={"csrf_token": token, "reason": "wrong team", "then": "stop"})  # fmt: skip
    with store.read() as session:
        ann = session.get_one(Enrolment, steps["ann_enrolment"])
        bob = session.get_one(Enrolment, steps["bob_enrolment"])
        campaign = session.scalars(select(Campaign)).one()
    assert (ann.status, ann.step) == ("active", 1) and ann.next_due_at is not None
    assert bob.status == "stopped" and bob.stop_reason == "step 2 rejected by maria: wrong team"
    assert campaign.status == "active"  # one person's rejection ends nobody else's campaign
    assert draft(store, steps["ann"]).reject_reason == "too soon"


def test_the_command_line_decides_held_drafts_and_rejected_steps(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_store(load_config(workspace / "config.toml").database_url)
    try:
        ids = make_steps(store)
        with store.session() as session:
            users.add_user(session, "lena", "correct horse battery")  # a second reviewer
            for name in ("ann", "bob"):
                step = queue.get_draft(session, ids[name])
                queue.approve(session, step, actor="maria", message_id=new_message_id(kit.RECRUITER))  # fmt: skip
                queue.hold(session, step, reason=f"{name.title()} replied on 2026-03-02 at 10:14, after you approved this", actor="sync")  # fmt: skip
        code, out, _ = run(["queue", "held"], capsys)
        assert code == 0 and "Ann replied on 2026-03-02 at 10:14" in out and "2 held" in out
        code, _, err = run(["queue", "send-anyway", str(ids["ann"]), "--as", "lena"], capsys)
        assert code == 1 and "queue show" in err  # lena has not read it
        run(["queue", "show", str(ids["ann"]), "--as", "lena"], capsys)
        code, out, _ = run(["queue", "send-anyway", str(ids["ann"]), "--as", "lena"], capsys)
        sent_anyway = draft(store, ids["ann"])
        assert code == 0 and (sent_anyway.status, sent_anyway.approved_by) == ("approved", "lena")
        assert sent_anyway.hold_reason == ""
        code, _, _ = run(["queue", "drop", str(ids["bob"]), "--as", "maria"], capsys)
        assert code == 0 and draft(store, ids["bob"]).status == queue.CANCELLED
        code, _, err = run(["queue", "drop", str(ids["bob"]), "--as", "maria"], capsys)
        assert code == 1 and "is not held" in err
        with store.session() as session:  # a fresh step 2 for ann, to reject
            ann = session.get_one(Draft, ids["ann"])
            again = queue.create_draft(
                session,
                queue.NewDraft(
                    candidate_id=ann.candidate_id, kind="follow_up", template="nudge",
                    subject="Re: Backend", body="Hi", author="template",
                    campaign_id=ann.campaign_id, step=1, enrolment_id=ann.enrolment_id,
                ),
            )  # fmt: skip
            again_id = again.id
        code, _, err = run(
            ["queue", "reject", str(again_id), "--reason", "no", "--as", "maria"], capsys
        )
        assert code == 1 and "--then skip|stop|rewrite" in err
        code, out, _ = run(["queue", "reject", str(again_id), "--reason", "no", "--then", "stop", "--as", "maria"], capsys)  # fmt: skip
        assert code == 0 and "the sequence stopped" in out
        with store.read() as session:
            assert session.get_one(Enrolment, ids["ann_enrolment"]).status == "stopped"
        code, _, err = run(["outbox", "retry", "7", "--as", "maria"], capsys)
        assert code == 1 and "outbox entry 7 is not failed" in err
    finally:
        store.close()
