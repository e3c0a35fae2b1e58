"""Conversations: stop rules and the read side, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from outreach.conversations import reads, stops
from outreach.conversations import threads as conv
from outreach.errors import InputError, NotFound
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Event, Message, Suppression
from tests import inbox_kit as kit


def add_message(store: Store, email: str, direction: str, minutes: int, text: str) -> int:
    """A stored message in the candidate's conversation (opened on the first one)."""
    with store.session() as session:
        candidate = session.scalars(select(Candidate).where(Candidate.email == email)).one()
        conversation = session.scalars(
            select(Conversation).where(Conversation.candidate_id == candidate.id)
        ).first()
        when = kit.NOW + timedelta(minutes=minutes)
        if conversation is None:
            conversation = conv.open_conversation(
                session, candidate.id, kit.SUBJECT, when, actor="test"
            )
        session.add(
            Message(
                mailbox="m",
                folder="INBOX" if direction == "in" else "Sent",
                uidvalidity=1,
                uid=minutes,
                message_id=f"<{minutes}@x>",
                from_addr=email if direction == "in" else kit.RECRUITER,
                date=when,
                subject=kit.SUBJECT,
                direction=direction,
                reply_text=text,
                elided_text="> quoted",
                candidate_id=candidate.id,
                conversation_id=conversation.id,
            )
        )
        conv.touch(conversation, when)
        return conversation.id


def test_reply_stops_the_sequence_and_our_answer_reopens(store: Store) -> None:
    people = kit.add_people(store, ["ana@paywise.example", "ben@corp.example"])
    ana = people["ana@paywise.example"]
    conversation_id = add_message(store, ana.email, "in", 1, "Yes, interested.")
    with store.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        stops.record_reply(session, conversation, actor="sync")
        stops.record_reply(session, conversation, actor="sync")  # idempotent
    assert kit.draft_status(store, ana.follow_up_id) == queue.CANCELLED
    assert kit.draft_status(store, people["ben@corp.example"].follow_up_id) == queue.PENDING
    assert reads.status_counts(store) == {"needs_response": 1, "open": 0, "closed": 0}
    with store.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        conv.record_answered(session, conversation, actor="sync")
    assert reads.status_counts(store)["open"] == 1


def test_hard_bounce_and_opt_out_suppress_once(store: Store) -> None:
    people = kit.add_people(store, ["hugo@gone.example", "kim@nope.example"])
    salt = store.salt()
    with store.session() as session:
        hugo = session.scalars(
            select(Candidate).where(Candidate.email == "hugo@gone.example")
        ).one()
        kim = session.scalars(select(Candidate).where(Candidate.email == "kim@nope.example")).one()
        for _ in range(2):
            stops.record_hard_bounce(session, salt, hugo, actor="sync", reason="550 5.1.1")
            stops.record_opt_out(session, salt, kim, None, actor="sync", reason="stop")
    with store.session() as session:
        assert session.scalar(select(func.count(Suppression.id))) == 2
        statuses = dict(session.execute(select(Candidate.email, Candidate.status)).all())
        actions = list(session.scalars(select(Event.action).where(Event.actor == "sync")))
    assert statuses == {"hugo@gone.example": "bounced", "kim@nope.example": "opted_out"}
    assert actions.count("candidate.bounced") == 1 and actions.count("enrolment.bounced") == 1
    for person in people.values():
        assert kit.draft_status(store, person.follow_up_id) == queue.CANCELLED


def test_list_show_and_mark(store: Store) -> None:
    kit.add_people(store, ["ana@paywise.example", "ben@corp.example"])
    add_message(store, "ana@paywise.example", "out", 1, "Hi Ana")
    add_message(store, "ana@paywise.example", "in", 5, "Yes, interested.")
    add_message(store, "ben@corp.example", "in", 9, "Tell me more.")
    rows = reads.list_conversations(store)
    assert [r.email for r in rows] == ["ben@corp.example", "ana@paywise.example"]
    assert (rows[1].messages, rows[1].incoming, rows[1].outgoing) == (2, 1, 1)
    assert reads.list_conversations(store, status="closed") == []

    shown = reads.show_conversation(store, "ANA@paywise.example")
    (thread,) = shown.conversations
    assert [i.text for i in thread.items] == ["Hi Ana", "Yes, interested."]
    assert [i.state for i in thread.items] == ["sent", "received"]  # ours from another client
    assert thread.items[1].elided == "> quoted"

    marked = conv.mark(store, "ana@paywise.example", "negative", actor="maria")
    assert marked.sentiment == "negative" and marked.messages == 2
    assert reads.list_conversations(store)[1].sentiment == "negative"
    with pytest.raises(InputError, match="use positive, negative"):
        conv.mark(store, "ana@paywise.example", "meh", actor="maria")
    with pytest.raises(NotFound, match="no conversation 999"):
        conv.mark(store, "ana@paywise.example", "positive", actor="maria", conversation_id=999)
    with pytest.raises(InputError, match="conversation status"):
        with store.session() as session:
            conversation = session.scalars(select(Conversation)).first()
            assert conversation is not None
            conv.set_status(session, conversation, "snoozed", actor="maria")
