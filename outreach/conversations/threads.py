"""Conversations: what the sync threads together, and a person's marks on them.

The reads (lists, threads, who waits) are in ``outreach.conversations.reads``. The sync opens
conversations, moves their last-message time and status; what an incoming
message does to the candidate's sequence and drafts (the stop rules) lives in
``outreach.conversations.stops``. Our own later message answers a conversation:
needs_response -> open (``record_answered``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.candidates.records import get_candidate
from outreach.conversations.reads import Summary, summary_of
from outreach.errors import InputError, NotFound
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Event, utcnow

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


# A person's marks ---------------------------------------------------------------------------


def mark(
    store: Store,
    email: str,
    sentiment: str,
    *,
    actor: str,
    conversation_id: int | None = None,
) -> Summary:
    """Mark a candidate's latest conversation (or the one given) positive or negative."""
    if sentiment not in SENTIMENTS:
        raise InputError(f"sentiment {sentiment!r}: use positive, negative or an empty string")
    with store.session() as session:
        candidate = get_candidate(session, email)
        conversation = find(session, candidate, conversation_id)
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
        return summary_of(session, conversation, candidate)


def find(session: Session, candidate: Candidate, conversation_id: int | None) -> Conversation:
    """The candidate's conversation with this id, or their latest one; NotFound otherwise."""
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
    return conversation


def no_answer_needed(
    store: Store,
    email: str,
    reason: str,
    *,
    actor: str,
    now: datetime,
    conversation_id: int | None = None,
) -> Summary:
    """A person read the candidate's last message and says it needs no answer, and why.

    The conversation leaves "waiting" (and ``needs_response``) until the candidate writes again.
    """
    if not reason.strip():
        raise InputError('say why no answer is needed (--reason), e.g. "they said thanks"')
    with store.session() as session:
        candidate = get_candidate(session, email)
        conversation = find(session, candidate, conversation_id)
        conversation.no_answer_at, conversation.no_answer_reason = now, reason.strip()
        event(
            session, actor, "conversation.no_answer_needed", "conversation", conversation.id,
            candidate.id, reason=reason.strip(),
        )  # fmt: skip
        if conversation.status == NEEDS_RESPONSE:
            set_status(session, conversation, OPEN, actor=actor)
        return summary_of(session, conversation, candidate)


def interview_day(value: str) -> datetime | None:
    """An interview date as typed (YYYY-MM-DD), kept as noon UTC of that day; "" clears it."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"interview date {value!r}: write it like 2026-03-02") from None
    return datetime.combine(day, time(12), tzinfo=UTC)


def mark_interviewed(store: Store, email: str, at: datetime | None, *, actor: str) -> None:
    """Record the candidate's interview date (None: clear it); feedback is owed from then."""
    with store.session() as session:
        candidate = get_candidate(session, email)
        if candidate.interviewed_at != at:
            event(
                session, actor, "candidate.interviewed" if at else "candidate.interview_cleared",
                "candidate", candidate.id, candidate.id, at=at.isoformat() if at else None,
            )  # fmt: skip
            candidate.interviewed_at, candidate.updated_at = at, utcnow()
