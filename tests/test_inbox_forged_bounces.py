"""Bounces through a real sync (Dovecot): only one about mail we sent suppresses anyone.

Anyone can write "X-Failed-Recipients: someone@..., 550 5.1.1": such a notice once suppressed a
candidate we had never mailed. Now it is kept, flagged for a person, and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from outreach.candidates.records import is_suppressed
from outreach.inbox.sync import run_sync
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Draft, Enrolment, Message
from tests import inbox_kit as kit

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot

MAILED = ["ana@paywise.example", "ben@corp.example", "cleo@gone.example", "dan@gone.example"]
NEVER = "nora@never.example"  # imported and enrolled, never sent anything


@pytest.fixture
def user(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    return dovecot.new_user()


def forged_notice(rcpt: str, sender: str = "postmaster@evil.example") -> bytes:
    """The report's forgery: a plain message with X-Failed-Recipients and a 5.1.1 status."""
    headers = kit.head(
        sender,
        subject="Undelivered Mail Returned to Sender",
        msgid=f"<forged.{rcpt.split('@')[0]}@evil.example>",
        X_Failed_Recipients=rcpt,
    )
    body = f"Delivery to the following recipient failed permanently:\n\n  {rcpt}\n\n550 5.1.1 User unknown\n"
    return kit.plain(headers, body)


def state(store: Store, email: str) -> tuple[str, str | None, list[str]]:
    """The candidate's status, suppression, and the statuses of their enrolments and drafts."""
    salt = store.salt()
    with store.session() as session:
        candidate = session.scalars(select(Candidate).where(Candidate.email == email)).one()
        enrolments = session.scalars(
            select(Enrolment.status).where(Enrolment.candidate_id == candidate.id)
        ).all()
        drafts = session.scalars(
            select(Draft.status).where(Draft.candidate_id == candidate.id).order_by(Draft.id)
        ).all()
        return candidate.status, is_suppressed(session, salt, email), [*enrolments, *drafts]


def messages(store: Store, email: str) -> list[Message]:
    with store.session() as session:
        return list(
            session.scalars(
                select(Message)
                .join(Candidate, Message.candidate_id == Candidate.id)
                .where(Candidate.email == email)
            )
        )


def test_only_a_bounce_about_mail_we_sent_suppresses(
    dovecot: Dovecot, user: str, store: Store
) -> None:
    people = kit.add_people(store, MAILED)
    ana, ben, cleo, dan = (people[e] for e in MAILED)
    with store.session() as session:
        enrolment = session.scalars(select(Enrolment)).first()
        assert enrolment is not None
        never = Candidate(email=NEVER, name="Nora Never")
        session.add(never)
        session.flush()
        session.add(Enrolment(campaign_id=enrolment.campaign_id, candidate_id=never.id))
        queue.create_draft(
            session,
            queue.NewDraft(never.id, "outreach", "intro", kit.SUBJECT, kit.QUOTED, "template"),
        )
    for raw in [
        forged_notice(NEVER),  # the report's attack: never mailed, anyone's notice
        forged_notice(ana.email, sender="MAILER-DAEMON@mx.evil.example"),  # mailed, but no proof
        kit.dsn_bounce(NEVER, "<made-up@evil.example>"),  # a full report, of no mail of ours
        # Our Message-ID, but of mail to Ben, not to Nora (its own Message-ID, so both are kept).
        kit.dsn_bounce(NEVER, ben.message_id).replace(b"<20260302091500.", b"<20260302091501."),
        kit.dsn_bounce(cleo.email, cleo.message_id),  # ours: our Message-ID, to Cleo
        kit.dsn_bounce(dan.email, "<lost@relay.example>"),  # ours: a report naming Dan
    ]:
        dovecot.deliver(user, raw)
    url = store.engine.url.render_as_string(hide_password=False)
    report = run_sync(
        kit.settings(dovecot.host, dovecot.port, user, url), store, now=lambda: kit.NOW
    )

    assert report.counts["hard_bounces"] == 2 and report.counts["unverified_bounces"] == 4
    assert "4 to read (a bounce about no mail we sent; nothing suppressed)" in report.summary()
    assert state(store, NEVER) == ("active", None, ["active", "pending"])
    for email in (ana.email, ben.email):
        assert state(store, email) == ("active", None, ["active", "sent", "pending"]), email
    for email in (cleo.email, dan.email):
        assert state(store, email) == ("bounced", "hard_bounce", ["bounced", "sent", "cancelled"])
    kept = [*messages(store, NEVER), *messages(store, ana.email), *messages(store, ben.email)]
    assert len(kept) == 4
    for message in kept:
        assert message.classification == "bounce" and "unverified-bounce" in message.flags
        assert message.details["reason"].endswith(
            "names no mail we sent to this address: nothing suppressed, please read it"
        )
    with store.session() as session:
        waiting = session.scalars(
            select(Conversation.status).where(
                Conversation.id.in_([m.conversation_id for m in kept])
            )
        ).all()
    assert set(waiting) == {"needs_response"}  # shown to a person
    for message in [*messages(store, cleo.email), *messages(store, dan.email)]:
        assert "unverified-bounce" not in message.flags
