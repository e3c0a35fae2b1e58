"""Both ways on one thread: our messages from the outbox, replies from the thread, who waits.

Real SMTP on loopback (aiosmtpd) and real stores (SQLite and PostgreSQL). The candidate's
reply is stored as the sync stores it; tests/test_conversation_e2e.py takes the whole path
through Dovecot and a browser.
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select, update

from outreach.config import settings_from_dict
from outreach.conversations import reads, replies, stops
from outreach.conversations import threads as conv
from outreach.conversations import waiting as waits
from outreach.drafting.drafter import Drafter
from outreach.errors import InputError
from outreach.review import queue
from outreach.sending import freezing
from outreach.sending.sender import run_sender
from outreach.store import Store
from outreach.store.models import Conversation, Draft, Message, OutboxEntry, Revision
from tests import outbox_kit as kit
from tests.services import smtp as services
from tests.services.smtp import CaptureServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory

JAMIE = "jamie@example.com"
SUBJECT = "A backend role at Nordlys"
REPLY_ID = "<reply-1@mail.example.com>"
NOW = kit.MONDAY


def settings(port: int = 2525, **conversations: object):  # type: ignore[no-untyped-def]
    base = kit.settings(port)
    data = base.model_dump(exclude={"base_dir"})
    data["conversations"] = {**data["conversations"], **conversations}
    data["templates"] = {"dir": str(kit.Path(__file__).resolve().parents[1] / "templates")}
    return settings_from_dict(data, path=kit.Path("/nonexistent/config.toml"))


async def first_contact(store: Store, smtp: CaptureServer) -> str:
    """Our first mail to Jamie, approved, frozen and sent; returns its Message-ID."""
    draft_id = kit.add_draft(store, JAMIE, subject=SUBJECT)
    report = await run_sender(store, settings(smtp.port), clock=lambda: NOW)
    assert report.sent == [draft_id] or len(smtp.messages) == 1
    with store.read() as session:
        return str(session.scalar(select(Draft.message_id).where(Draft.id == draft_id)))


def their_reply(
    store: Store, ours: str, *, minutes: int = 30, text: str = "Thursday works."
) -> int:
    """Jamie's answer, stored on the conversation the way the sync stores it."""
    with store.session() as session:
        row = session.scalars(select(Message).where(Message.message_id == ours)).one()
        conversation = session.get_one(Conversation, row.conversation_id)
        when = NOW + timedelta(minutes=minutes)
        message = Message(
            mailbox=kit.SENDER, folder="INBOX", uidvalidity=1, uid=minutes,
            message_id=REPLY_ID if minutes == 30 else f"<reply-{minutes}@mail.example.com>",
            in_reply_to=ours, references=[ours], from_addr=JAMIE, date=when,
            subject=f"Re: {SUBJECT}", direction="in", reply_text=text,
            elided_text=f"> {SUBJECT}", candidate_id=row.candidate_id,
            conversation_id=conversation.id,
        )  # fmt: skip
        session.add(message)
        conv.touch(conversation, when)
        stops.record_reply(session, conversation, actor="sync")
        session.flush()
        return message.id


async def test_our_message_is_on_its_thread_with_the_outbox_state(
    store: Store, smtp_capture: CaptureServer
) -> None:
    draft_id = kit.add_draft(store, JAMIE, subject=SUBJECT)
    with store.session() as session:
        freezing.freeze(session, [draft_id], settings(smtp_capture.port), actor="t", now=NOW)
    (thread,) = reads.show_conversation(store, JAMIE).conversations
    (ours,) = thread.items
    assert (ours.direction, ours.state, ours.subject) == ("out", "queued", SUBJECT)
    assert ours.text == "Hi Jamie,\n\nWould you like to talk?\n\nMaria"
    await run_sender(store, settings(smtp_capture.port), clock=lambda: NOW)
    sent = message_from_bytes(smtp_capture.messages[0].data, policy=policy.default)
    (thread,) = reads.show_conversation(store, JAMIE).conversations
    assert [(m.state, m.message_id) for m in thread.items] == [("sent", sent["Message-ID"])]
    assert (thread.incoming, thread.outgoing) == (0, 1)
    # The state is the outbox's, read every time: never a copy that could disagree.
    with store.session() as session:
        session.execute(update(OutboxEntry).values(state="failed", last_reply="550 no such user"))
    (item,) = reads.show_conversation(store, JAMIE).conversations[0].items
    assert (item.state, item.server_reply) == ("failed", "550 no such user")


async def test_reply_from_the_thread_is_threaded_quoted_and_approved_by_its_writer(
    store: Store, smtp_capture: CaptureServer
) -> None:
    ours = await first_contact(store, smtp_capture)
    their_id = their_reply(store, ours)
    assert [w.email for w in waits.waiting(store, settings(), now=NOW + timedelta(days=1))] == [
        JAMIE
    ]
    queued = replies.send_reply(
        store, settings(smtp_capture.port), JAMIE, "Great, Thursday at 10 then.\n\nMaria",
        actor="maria", now=NOW + timedelta(hours=2),
    )  # fmt: skip
    await run_sender(store, settings(smtp_capture.port), clock=lambda: NOW + timedelta(hours=2))
    raw = smtp_capture.messages[-1].data
    sent = message_from_bytes(raw, policy=policy.default)
    assert sent["In-Reply-To"] == REPLY_ID and sent["Message-ID"] == queued.message_id
    assert sent["References"].split() == [ours, REPLY_ID]
    assert sent["Subject"] == f"Re: {SUBJECT}"  # their "Re:" kept, never "Re: Re:"
    assert sent["From"] == "Maria Berg <maria@nordlys.example>"
    body = sent.get_content().replace("\r\n", "\n")
    assert body.startswith(
        "Great, Thursday at 10 then.\n\nMaria\n\nOn Mon, 1 Mar 2027 at 11:30 CET"
    )
    assert "Jamie Doe <jamie@example.com> wrote:\n> Thursday works.\n" in body
    with store.read() as session:
        draft = session.get_one(Draft, queued.draft_id)
        author = session.scalar(select(Revision.author).where(Revision.draft_id == draft.id))
        assert (draft.kind, draft.approved_by, author, draft.status) == (
            "reply",
            "maria",
            "maria",
            "sent",
        )
        status = session.scalar(select(Conversation.status))
    assert status == "open"  # answered: no longer needs a response
    (thread,) = reads.show_conversation(store, JAMIE).conversations
    assert [(m.direction, m.state) for m in thread.items] == [
        ("out", "sent"), ("in", "received"), ("out", "sent")
    ]  # fmt: skip
    assert thread.items[2].elided.startswith("On Mon, 1 Mar 2027")  # the quote, behind "more"
    assert waits.waiting(store, settings(), now=NOW + timedelta(days=1)) == []
    assert their_id == thread.items[1].id


async def test_quoting_can_be_turned_off_and_an_edit_after_opening_is_not_approved(
    store: Store, smtp_capture: CaptureServer
) -> None:
    ours = await first_contact(store, smtp_capture)
    their_reply(store, ours)
    plain = settings(smtp_capture.port, quote=False)
    drafter = Drafter(plain, store, llm=None)
    draft_id = await replies.draft_reply(store, plain, drafter, JAMIE)
    (thread,) = reads.show_conversation(store, JAMIE).conversations
    box = replies.reply_box(store, plain, thread, JAMIE, viewer="maria")
    assert (box.draft_id, box.revision, box.quoted) == (draft_id, 1, "")
    assert box.text.startswith("Hi Jamie,") and box.subject == f"Re: {SUBJECT}"
    with store.session() as session:  # a colleague changes it after Maria opened it
        draft = queue.get_draft(session, draft_id)
        queue.add_revision(
            session,
            draft,
            subject=f"Re: {SUBJECT}",
            body="Lena's text",
            author="lena",
            actor="lena",
        )
    with pytest.raises(queue.ChangedSinceOpened):
        replies.send_reply(
            store, plain, JAMIE, box.text, actor="maria", now=NOW, draft_id=draft_id, seen=1
        )
    with pytest.raises(InputError, match="empty"):
        replies.send_reply(store, plain, JAMIE, "  \n", actor="maria", now=NOW)
    with store.read() as session:
        assert session.scalar(select(func.count(OutboxEntry.id))) == 1  # only the first contact
    # Opened again, Maria's own words go out, without a quote.
    queued = replies.send_reply(
        store, plain, JAMIE, "Thursday is fine.", actor="maria", now=NOW, draft_id=draft_id, seen=2
    )
    with store.read() as session:
        raw = session.scalars(
            select(OutboxEntry.raw).where(OutboxEntry.id == queued.outbox_id)
        ).one()
    body = message_from_bytes(raw, policy=policy.default).get_content().replace("\r\n", "\n")
    assert body == "Thursday is fine.\n" and b"In-Reply-To: " + REPLY_ID.encode() in raw


async def test_who_waits_no_answer_needed_and_feedback_owed(
    store: Store, smtp_capture: CaptureServer
) -> None:
    ours = await first_contact(store, smtp_capture)
    their_reply(store, ours)
    config = settings(answer_within_days=2, feedback_within_days=5)
    later = NOW + timedelta(days=4, hours=1)
    (one,) = waits.waiting(store, config, now=later)
    assert (one.kind, one.overdue, one.excerpt) == ("answer", True, "Thursday works.")
    assert waits.summary_line([one]) == "1 candidate waiting for an answer, oldest 4 days"
    assert not waits.waiting(store, config, now=NOW + timedelta(days=1))[0].overdue
    with pytest.raises(InputError, match="say why"):
        conv.no_answer_needed(store, JAMIE, " ", actor="maria", now=later)
    conv.no_answer_needed(store, JAMIE, "they said thanks", actor="maria", now=later)
    assert waits.waiting(store, config, now=later) == []
    their_reply(store, ours, minutes=60 * 24 * 5, text="One more question.")  # stored after
    with store.session() as session:  # the sync stores it later than the mark
        session.execute(
            update(Message).where(Message.reply_text == "One more question.")
            .values(created_at=later + timedelta(minutes=5))
        )  # fmt: skip
    assert [w.excerpt for w in waits.waiting(store, config, now=later + timedelta(days=1))] == [
        "One more question."
    ]
    conv.mark_interviewed(store, JAMIE, conv.interview_day("2027-03-02"), actor="maria")
    found = waits.waiting(store, config, now=NOW + timedelta(days=8))
    assert [(w.kind, w.overdue) for w in found] == [("feedback", True), ("answer", True)]
    assert "1 owed feedback after an interview" in waits.summary_line(found)
    with pytest.raises(InputError, match="2026-03-02"):
        conv.interview_day("next tuesday")
    feedback = kit.add_draft(store, JAMIE, kind="feedback", subject="Your interview")
    with store.session() as session:
        freezing.freeze(session, [feedback], config, actor="t", now=NOW + timedelta(days=8))
    assert [w.kind for w in waits.waiting(store, config, now=NOW + timedelta(days=8))] == ["answer"]
