"""The conversation both ways, end to end: real Dovecot, a real SMTP server, Chromium.

First contact sent → the candidate's reply delivered by LMTP → sync → the page shows both →
a reply written in the browser → sent with In-Reply-To and References (asserted on the bytes
the SMTP server received) → its Sent copy synced without a duplicate → a message the recruiter
wrote in another mail client (APPENDed to Sent) joins the thread → nobody waits any more.
Screenshots of the conversation page and the waiting view, at desktop and phone width, go to
artifacts/ (and /work/notes/shots when that folder exists).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from outreach import users
from outreach.config import Settings, settings_from_dict
from outreach.conversations import reads
from outreach.conversations import waiting as waits
from outreach.inbox.sync import run_sync
from outreach.sending.sender import run_sender
from outreach.sending.sent_folder import imap_factory
from outreach.store import Store, open_store
from outreach.store.models import Message, utcnow
from outreach.web import create_app
from tests import inbox_kit as kit
from tests import outbox_kit
from tests.services import missing
from tests.services import smtp as services
from tests.services.dovecot import Dovecot
from tests.services.smtp import CaptureServer
from tests.webutil import PASSWORD, Served

pytestmark = [pytest.mark.dovecot, pytest.mark.browser]
smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SHOTS = [REPO / "artifacts", Path("/work/notes/shots")]
JAMIE = "jamie@paywise.example"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing("chromium not installed: run make test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def make_settings(tmp_path: Path, smtp: CaptureServer, dovecot: Dovecot, user: str) -> Settings:
    return settings_from_dict(
        {
            "sender": {
                "name": "Maria Berg", "email": kit.RECRUITER, "timezone": "Europe/Stockholm",
                "signature": "Maria Berg\nNordlys AB",
            },
            "database": {"url": f"sqlite:///{tmp_path / 'outreach.db'}"},
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"},
            "imap": {"host": dovecot.host, "port": dovecot.port, "security": "none", "username": user},
            "pacing": {"working_hours": "always", "min_gap_seconds": 0, "jitter_seconds": 0},
            "templates": {"dir": str(REPO / "templates")},
            "sync": {"since": "2020-01-01"},
        },
        path=tmp_path / "config.toml",
    )  # fmt: skip


def shoot(page: Any, name: str) -> None:
    for folder in SHOTS:
        if folder.name == "artifacts" or folder.is_dir():
            folder.mkdir(exist_ok=True)
            page.screenshot(path=str(folder / f"convo-{name}.png"), full_page=True)


def copies(store: Store, message_id: str) -> int:
    with store.read() as session:
        return int(
            session.scalar(select(func.count(Message.id)).where(Message.message_id == message_id))
            or 0
        )


def send(store: Store, settings: Settings) -> None:
    """Run the sender once, in its own thread (Playwright's loop runs in this one)."""
    factory = imap_factory(settings)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            asyncio.run, run_sender(store, settings, clock=utcnow, mailbox_factory=factory)
        ).result()


def test_a_conversation_both_ways_in_the_browser(
    tmp_path: Path,
    smtp_capture: CaptureServer,
    dovecot: Dovecot,
    browser: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    user = dovecot.new_user()
    settings = make_settings(tmp_path, smtp_capture, dovecot, user)
    store = open_store(settings.database_url)
    with store.session() as session:
        users.add_user(session, "maria", PASSWORD)
    outbox_kit.add_draft(
        store,
        JAMIE,
        name="Jamie Lind",
        subject=kit.SUBJECT,
        body="Hi Jamie,\n\nA role for you?\n\nMaria",
    )
    send(store, settings)  # the first contact, and its copy filed in Sent
    (first,) = smtp_capture.messages
    ours = str(message_from_bytes(first.data, policy=policy.default)["Message-ID"])

    # Jamie answers from Gmail; the sync threads it onto the conversation.
    answered_at = format_datetime(utcnow() + timedelta(seconds=1))
    reply = kit.gmail_reply(f"Jamie Lind <{JAMIE}>", "<jamie-1@mail.paywise.example>",
                            "Sounds good! Is the role remote?", ours)  # fmt: skip
    dovecot.deliver(user, reply.replace(kit.DATE.encode(), answered_at.encode()))
    report = run_sync(settings, store)
    assert report.counts["replies"] == 1 and report.counts["own_recognised"] == 1
    assert copies(store, ours) == 1  # our Sent copy recognised, not stored twice
    (thread,) = reads.show_conversation(store, JAMIE).conversations
    assert [(m.direction, m.state) for m in thread.items] == [("out", "sent"), ("in", "received")]
    assert [w.email for w in waits.waiting(store, settings, now=utcnow())] == [JAMIE]

    app = create_app(settings, store)
    with Served(app) as served:
        for width, label in ((390, "phone"), (1360, "desktop")):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.goto(f"{served.url}/waiting")
            page.fill("input[name=username]", "maria")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{served.url}/waiting")
            assert "Sounds good! Is the role remote?" in page.inner_text("ul.waiting")
            assert page.inner_text(".waiting-link .count") == "1"
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shoot(page, f"waiting-{label}")
            page.click("ul.waiting a")
            page.wait_for_url(
                re.compile(rf"/conversations/jamie(@|%40)paywise\.example#reply-{thread.id}$")
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shoot(page, f"conversation-{label}")
            if label == "phone":
                context.close()
                continue
            articles = page.locator("article.msg")
            assert articles.count() == 2
            assert "A role for you?" in articles.nth(0).inner_text()
            assert "sent" in articles.nth(0).inner_text() and "CET" in articles.nth(0).inner_text()
            assert "Is the role remote?" in articles.nth(1).inner_text()
            page.fill(
                "textarea[name=text]", "Hi Jamie,\n\nYes, fully remote within Sweden.\n\nMaria"
            )
            page.click("button[name=action][value=send]")
            page.wait_for_load_state()
            assert "approved and in the outbox" in page.inner_text("main")
            assert page.locator("article.msg[data-state=queued]").count() == 1
            assert page.locator(".waiting-link .count").count() == 0  # nobody waits now
            context.close()

        send(store, settings)
        raw = smtp_capture.messages[-1].data
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert b"\r\nIn-Reply-To: <jamie-1@mail.paywise.example>\r\n" in head
        sent = message_from_bytes(raw, policy=policy.default)
        assert sent["References"].split() == [ours, "<jamie-1@mail.paywise.example>"]
        assert sent["Subject"] == f"Re: {kit.SUBJECT}"
        assert sent["From"] == f"Maria Berg <{kit.RECRUITER}>"
        body = sent.get_content().replace("\r\n", "\n")
        assert "Yes, fully remote within Sweden." in body
        assert (
            "Jamie Lind <jamie@paywise.example> wrote:\n> Sounds good! Is the role remote?" in body
        )
        mine = str(sent["Message-ID"])

        # The Sent copy of the reply, and a message Maria wrote in another mail client.
        later = format_datetime(utcnow() + timedelta(minutes=5))
        other = kit.plain(
            kit.head(f"Maria Berg <{kit.RECRUITER}>", to=f"Jamie Lind <{JAMIE}>",
                     subject=f"Re: {kit.SUBJECT}", msgid="<phone-1@nordlys.example>",
                     in_reply_to=mine, date=later),
            "PS: the salary range is in the ad.\n\nSent from my phone\n",
        )  # fmt: skip
        dovecot.deliver(user, other, folder="Sent")
        report = run_sync(settings, store)
        assert copies(store, mine) == 1 and copies(store, "<phone-1@nordlys.example>") == 1
        (thread,) = reads.show_conversation(store, JAMIE).conversations
        assert [(m.direction, m.state) for m in thread.items] == [
            ("out", "sent"), ("in", "received"), ("out", "sent"), ("out", "sent")
        ]  # fmt: skip
        assert thread.items[3].text.startswith("PS: the salary range")
        assert (thread.incoming, thread.outgoing) == (1, 3)
        assert waits.waiting(store, settings, now=utcnow()) == []

        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.goto(f"{served.url}/conversations")
        page.fill("input[name=username]", "maria")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{served.url}/conversations")
        assert "1 in / 3 out" in page.inner_text("table.queue")
        page.goto(f"{served.url}/conversations/{JAMIE}")
        page.click("article.msg:nth-of-type(3) details summary")  # the quote behind "more"
        assert "> Sounds good!" in page.inner_text("article.msg:nth-of-type(3) details")
        shoot(page, "conversation-answered-desktop")
        page.goto(f"{served.url}/waiting")
        assert "Nobody is waiting for you" in page.inner_text("main")
        context.close()
    store.close()


def test_mail_from_us_found_in_the_inbox_joins_the_thread(
    tmp_path: Path, smtp_capture: CaptureServer, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of mail Maria wrote elsewhere, in INBOX (Gmail's All Mail, a Bcc to herself)."""
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    user = dovecot.new_user()
    settings = make_settings(tmp_path, smtp_capture, dovecot, user)
    store = open_store(settings.database_url)
    outbox_kit.add_draft(store, JAMIE, name="Jamie Lind", subject=kit.SUBJECT)
    send(store, settings)
    ours = str(
        message_from_bytes(smtp_capture.messages[0].data, policy=policy.default)["Message-ID"]
    )
    when = format_datetime(utcnow() + timedelta(seconds=2))
    elsewhere = kit.plain(
        kit.head(f"Maria Berg <{kit.RECRUITER}>", to=JAMIE, subject=f"Re: {kit.SUBJECT}",
                 msgid="<laptop-1@nordlys.example>", date=when),
        "One more thing: the team is in Stockholm.\n",
    )  # fmt: skip
    dovecot.deliver(user, elsewhere)  # INBOX, no In-Reply-To: the subject threads it
    run_sync(settings, store)
    run_sync(settings, store)  # nothing twice
    (thread,) = reads.show_conversation(store, JAMIE).conversations
    assert [(m.direction, m.state, m.message_id) for m in thread.items] == [
        ("out", "sent", ours), ("out", "sent", "<laptop-1@nordlys.example>")
    ]  # fmt: skip
    assert copies(store, ours) == 1
    store.close()
