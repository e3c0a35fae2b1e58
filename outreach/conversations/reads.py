"""The read side of conversations: typed models the CLI prints and the JSON API serves as they are.

A thread is every message of a conversation in order, theirs and ours. Ours are the rows the
outbox put there (``outreach.sending.recorded``), whose state is read from the outbox row on
every read (queued, sending, sent, failed, uncertain; a message taken out of the outbox before
it went is not shown), and mail the recruiter wrote from her own mail client, found by the
sync (state ``sent``). Each shows its trimmed text with the rest (quotes, signature) apart.
Times are aware UTC here; shells show them in the recruiter's zone, named (``local_time``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from outreach.candidates.records import get_candidate
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Message, OutboxEntry

NEEDS_RESPONSE, OPEN, CLOSED = "needs_response", "open", "closed"
RECEIVED, CANCELLED = "received", "cancelled"
CONVERSATIONAL = ("human", "calendar_reply", "opt_out_unclear")  # a person wrote it


def local_time(value: datetime | None, timezone: str) -> str:
    """A time as the recruiter reads it everywhere: "2026-03-02 10:15 CET"; "" for None."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class MessageView:
    """One message of a thread: trimmed text, the elided rest, and (ours) the outbox state."""

    id: int
    direction: str  # in | out
    date: datetime | None  # ours: when it was sent, else when it was queued
    sender: str
    to: list[str]
    subject: str
    message_id: str | None
    classification: str
    state: str  # received (theirs) | queued | sending | sent | failed | uncertain
    server_reply: str  # ours: the SMTP server's last answer
    text: str
    elided: str
    flags: list[str]
    details: dict[str, Any]
    outbox_id: int | None


@dataclass(frozen=True)
class Summary:
    """A conversation as a row of a list: its candidate and how many messages each way."""

    id: int
    email: str
    name: str
    candidate_status: str
    subject: str
    status: str
    sentiment: str
    last_message_at: datetime | None
    incoming: int
    outgoing: int
    no_answer_reason: str

    @property
    def messages(self) -> int:
        """All messages, both ways."""
        return self.incoming + self.outgoing


@dataclass(frozen=True)
class Thread(Summary):
    """A conversation with its messages, oldest first."""

    items: list[MessageView] = field(default_factory=list)


@dataclass(frozen=True)
class CandidateThreads:
    """A candidate's conversations, newest first."""

    email: str
    name: str
    status: str
    interviewed_at: datetime | None
    conversations: list[Thread]


def _shown() -> Any:
    """Messages a thread shows: theirs, ours from elsewhere, and ours the outbox still holds."""
    return or_(
        Message.outbox_id.is_(None), OutboxEntry.id.is_(None), OutboxEntry.state != CANCELLED
    )


def _counts(session: Session, conversation_ids: list[int] | None) -> dict[int, tuple[int, int]]:
    """Messages each way per conversation, from the messages alone.

    Lists read no outbox state (they keep working when the sender's tables fail): a message
    taken out of the outbox before it went still counts here until it is queued again.
    """
    incoming = func.sum(case((Message.direction == "in", 1), else_=0))
    outgoing = func.sum(case((Message.direction == "out", 1), else_=0))
    query = (
        select(Message.conversation_id, incoming, outgoing)
        .where(Message.conversation_id.is_not(None))
        .group_by(Message.conversation_id)
    )
    if conversation_ids is not None:
        query = query.where(Message.conversation_id.in_(conversation_ids))
    return {cid: (int(i or 0), int(o or 0)) for cid, i, o in session.execute(query)}


def _summary(
    conversation: Conversation, candidate: Candidate, counts: tuple[int, int]
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
        "incoming": counts[0],
        "outgoing": counts[1],
        "no_answer_reason": conversation.no_answer_reason,
    }


def summary_of(session: Session, conversation: Conversation, candidate: Candidate) -> Summary:
    """One conversation's row."""
    counts = _counts(session, [conversation.id]).get(conversation.id, (0, 0))
    return Summary(**_summary(conversation, candidate, counts))


def list_conversations(store: Store, *, status: str | None = None) -> list[Summary]:
    """Every conversation, newest first, with its candidate and "N in / M out"."""
    query = select(Conversation, Candidate).join(Candidate)
    if status:
        query = query.where(Conversation.status == status)
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    with store.read() as session:
        counts = _counts(session, None)
        return [
            Summary(**_summary(conv, cand, counts.get(conv.id, (0, 0))))
            for conv, cand in session.execute(query)
        ]


def status_counts(store: Store) -> dict[str, int]:
    """How many conversations are open, need a response, or are closed."""
    with store.read() as session:
        rows = session.execute(
            select(Conversation.status, func.count(Conversation.id)).group_by(Conversation.status)
        )
        found = {status: int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in (NEEDS_RESPONSE, OPEN, CLOSED)}


def messages_of(session: Session, conversation_id: int) -> list[MessageView]:
    """A conversation's messages in the order they were written (ours: sent or queued)."""
    when = func.coalesce(OutboxEntry.sent_at, Message.date)
    rows = session.execute(
        select(Message, OutboxEntry.state, OutboxEntry.last_reply, when.label("when"))
        .outerjoin(OutboxEntry, OutboxEntry.id == Message.outbox_id)
        .where(Message.conversation_id == conversation_id, _shown())
        .order_by(when, Message.id)
    ).all()
    return [_view(m, state, reply, at) for m, state, reply, at in rows]


def _view(message: Message, state: str | None, reply: str | None, at: Any) -> MessageView:
    if message.direction == "in":
        shown = RECEIVED
    else:
        shown = state or "sent"  # no outbox row: written in another mail client
    return MessageView(
        id=message.id,
        direction=message.direction,
        date=at if isinstance(at, datetime) else message.date,
        sender=message.from_addr,
        to=list(message.to_addrs),
        subject=message.subject,
        message_id=message.message_id,
        classification=message.classification,
        state=shown,
        server_reply=reply or "",
        text=message.reply_text,
        elided=message.elided_text,
        flags=list(message.flags),
        details=dict(message.details),
        outbox_id=message.outbox_id,
    )


def show_conversation(store: Store, email: str) -> CandidateThreads:
    """A candidate's conversations, newest first, each with its messages oldest first."""
    with store.read() as session:
        candidate = get_candidate(session, email)
        conversations = session.scalars(
            select(Conversation)
            .where(Conversation.candidate_id == candidate.id)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        ).all()
        threads = []
        for conversation in conversations:
            items = messages_of(session, conversation.id)
            counts = (
                sum(m.direction == "in" for m in items),
                sum(m.direction == "out" for m in items),
            )
            threads.append(Thread(**_summary(conversation, candidate, counts), items=items))
        return CandidateThreads(
            email=candidate.email,
            name=candidate.name,
            status=candidate.status,
            interviewed_at=candidate.interviewed_at,
            conversations=threads,
        )


def latest_incoming(session: Session, conversation_id: int) -> Message | None:
    """The candidate's latest message in a conversation that a person wrote (the one to answer)."""
    return session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "in",
            Message.classification.in_(CONVERSATIONAL),
        )
        .order_by(Message.date.desc(), Message.id.desc())
        .limit(1)
    ).first()
