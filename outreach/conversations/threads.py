"""Conversations: what the sync threads together, and the read side.

The sync opens conversations, moves their last-message time and status; what an incoming
message does to the candidate's sequence and drafts (the stop rules) lives in
``outreach.conversations.stops``. Our own later message answers a conversation:
needs_response -> open (``record_answered``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from outreach.candidates.records import get_candidate
from outreach.errors import InputError, NotFound
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Event, Message

OPEN, NEEDS_RESPONSE, CLOSED = "open", "needs_response", "closed"
SENTIMENTS = ("positive", "negative", "")


def event(
    session: Session,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    candidate_id: int | None,
    **details: Any,
) -> None:
    """Write one audit event about a conversation, enrolment, candidate or draft."""
    session.add(
        Event(
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            candidate_id=candidate_id,
            details=details,
        )
    )


# Writing: used by the sync -------------------------------------------------------------------


def open_conversation(
    session: Session, candidate_id: int, subject: str, at: datetime, *, actor: str
) -> Conversation:
    """Start a new conversation with a candidate."""
    conversation = Conversation(
        candidate_id=candidate_id, subject=subject, status=OPEN, created_at=at
    )
    session.add(conversation)
    session.flush()
    event(session, actor, "conversation.opened", "conversation", conversation.id, candidate_id)
    return conversation


def touch(conversation: Conversation, at: datetime) -> None:
    """Move the conversation's last-message time forward to ``at``."""
    if conversation.last_message_at is None or at > conversation.last_message_at:
        conversation.last_message_at = at


def set_status(session: Session, conversation: Conversation, status: str, *, actor: str) -> None:
    """Change a conversation's status (open, needs_response, closed), audited."""
    if status not in (OPEN, NEEDS_RESPONSE, CLOSED):
        raise InputError(f"conversation status {status!r}: use open, needs_response or closed")
    if conversation.status != status:
        event(
            session,
            actor,
            f"conversation.{status}",
            "conversation",
            conversation.id,
            conversation.candidate_id,
            was=conversation.status,
        )
        conversation.status = status


def record_answered(session: Session, conversation: Conversation, *, actor: str) -> None:
    """Our own message came after theirs: the conversation no longer waits for us."""
    if conversation.status == NEEDS_RESPONSE:
        set_status(session, conversation, OPEN, actor=actor)


# Reading: the CLI and the web UI ---------------------------------------------------------------


def _summary(
    conversation: Conversation, candidate: Candidate, counts: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "email": candidate.email,
        "name": candidate.name,
        "candidate_status": candidate.status,
        "subject": conversation.subject,
        "status": conversation.status,
        "sentiment": conversation.sentiment,
        "last_message_at": conversation.last_message_at,
        "messages": counts.get("messages", 0),
        "incoming": counts.get("incoming", 0),
    }


def list_conversations(store: Store, *, status: str | None = None) -> list[dict[str, Any]]:
    """Every conversation, newest first, with its candidate and message counts."""
    incoming = func.sum(case((Message.direction == "in", 1), else_=0))
    counts_q = (
        select(Message.conversation_id, func.count(Message.id), incoming)
        .where(Message.conversation_id.is_not(None))
        .group_by(Message.conversation_id)
    )
    query = select(Conversation, Candidate).join(Candidate)
    if status:
        query = query.where(Conversation.status == status)
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    with store.session() as session:
        counts = {
            cid: {"messages": n, "incoming": int(i or 0)} for cid, n, i in session.execute(counts_q)
        }
        return [
            _summary(conv, cand, counts.get(conv.id, {})) for conv, cand in session.execute(query)
        ]


def status_counts(store: Store) -> dict[str, int]:
    """How many conversations are open, need a response, or are closed."""
    with store.session() as session:
        rows = session.execute(
            select(Conversation.status, func.count(Conversation.id)).group_by(Conversation.status)
        )
        found = {status: int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in (NEEDS_RESPONSE, OPEN, CLOSED)}


def message_view(message: Message) -> dict[str, Any]:
    """One message as the UI shows it: the trimmed reply, and the rest for an expander."""
    return {
        "id": message.id,
        "direction": message.direction,
        "date": message.date,
        "from": message.from_addr,
        "to": list(message.to_addrs),
        "subject": message.subject,
        "message_id": message.message_id,
        "classification": message.classification,
        "details": dict(message.details),
        "text": message.reply_text,
        "elided": message.elided_text,
        "flags": list(message.flags),
        "raw_size": message.raw_size,
    }


def show_conversation(store: Store, email: str) -> dict[str, Any]:
    """A candidate's conversations, newest first, each with its messages oldest first."""
    with store.session() as session:
        candidate = get_candidate(session, email)
        conversations = session.scalars(
            select(Conversation)
            .where(Conversation.candidate_id == candidate.id)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        ).all()
        out = []
        for conversation in conversations:
            messages = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.date, Message.id)
            ).all()
            views = [message_view(m) for m in messages]
            counts = {
                "messages": len(views),
                "incoming": sum(v["direction"] == "in" for v in views),
            }
            out.append({**_summary(conversation, candidate, counts), "items": views})
        return {
            "email": candidate.email,
            "name": candidate.name,
            "status": candidate.status,
            "conversations": out,
        }


def mark(
    store: Store,
    email: str,
    sentiment: str,
    *,
    actor: str,
    conversation_id: int | None = None,
) -> dict[str, Any]:
    """Mark a candidate's latest conversation (or the one given) positive or negative."""
    if sentiment not in SENTIMENTS:
        raise InputError(f"sentiment {sentiment!r}: use positive, negative or an empty string")
    with store.session() as session:
        candidate = get_candidate(session, email)
        query = select(Conversation).where(Conversation.candidate_id == candidate.id)
        if conversation_id is not None:
            query = query.where(Conversation.id == conversation_id)
        conversation = session.scalars(
            query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        ).first()
        if conversation is None:
            which = f" {conversation_id}" if conversation_id is not None else ""
            raise NotFound(
                f"{candidate.email} has no conversation{which}; "
                f"see `outreach conversations show {candidate.email}`"
            )
        if conversation.sentiment != sentiment:
            event(
                session,
                actor,
                "conversation.marked",
                "conversation",
                conversation.id,
                candidate.id,
                sentiment=sentiment,
                was=conversation.sentiment,
            )
            conversation.sentiment = sentiment
        directions = list(
            session.scalars(
                select(Message.direction).where(Message.conversation_id == conversation.id)
            )
        )
        counts = {"messages": len(directions), "incoming": directions.count("in")}
        return _summary(conversation, candidate, counts)
