"""Conversations: what the sync threads together, the stop rules, and the read side.

The stop rules are the consequences of an incoming message for the candidate's sequence:

    human reply           conversation needs_response; active enrolments -> replied;
                          follow-up drafts set aside (``set_aside``: cancelled if no person
                          touched them, held with the news if one edited or approved them)
    unclear opt-out       the same, and the message is flagged for the recruiter to read
    clear opt-out         address suppressed; candidate opted_out; every pending draft
                          cancelled; enrolments -> opted_out; conversation closed
    hard bounce           address suppressed; candidate bounced; every pending draft
                          cancelled; enrolments -> bounced
    our own later message the conversation is answered: needs_response -> open

Each writes an audit event. Drafts are cancelled only through ``queue.cancel``, held only
through ``sending.hold``. A reply also
holds the sequences of colleagues at the same company (``followups.hold_colleagues``); an
absence with a stated return date moves follow-ups (``followups.reschedule_for_absence``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.followups import hold_colleagues
from outreach.candidates.records import get_candidate, suppress
from outreach.errors import InputError, NotFound
from outreach.review import queue
from outreach.sending import outbox as sending
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Draft, Enrolment, Event, Message, utcnow
from outreach.store.values import LIVE_ENROLMENTS

OPEN, NEEDS_RESPONSE, CLOSED = "open", "needs_response", "closed"
SENTIMENTS = ("positive", "negative", "")
FOLLOW_UPS = ("follow_up",)


def _event(
    session: Session,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    candidate_id: int | None,
    **details: Any,
) -> None:
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
    _event(session, actor, "conversation.opened", "conversation", conversation.id, candidate_id)
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
        _event(
            session,
            actor,
            f"conversation.{status}",
            "conversation",
            conversation.id,
            conversation.candidate_id,
            was=conversation.status,
        )
        conversation.status = status


def cancel_pending(
    session: Session,
    candidate_id: int,
    *,
    reason: str,
    actor: str,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Cancel the candidate's drafts that have not started sending; returns how many."""
    query = select(Draft).where(
        Draft.candidate_id == candidate_id, Draft.status.in_(queue.CANCELLABLE)
    )
    if kinds is not None:
        query = query.where(Draft.kind.in_(kinds))
    return sum(queue.cancel(session, d, actor=actor, reason=reason) for d in session.scalars(query))


def stop_enrolments(
    session: Session, candidate_id: int, *, status: str, reason: str, actor: str
) -> int:
    """End the candidate's active enrolments with ``status``; returns how many."""
    query = select(Enrolment).where(
        Enrolment.candidate_id == candidate_id, Enrolment.status.in_(LIVE_ENROLMENTS)
    )
    stopped = 0
    for enrolment in session.scalars(query):
        enrolment.status, enrolment.stop_reason, enrolment.next_due_at = status, reason, None
        _event(
            session,
            actor,
            f"enrolment.{status}",
            "enrolment",
            enrolment.id,
            candidate_id,
            reason=reason,
        )
        stopped += 1
    return stopped


def _set_candidate_status(
    session: Session, candidate: Candidate, status: str, *, actor: str, reason: str
) -> None:
    if candidate.status != status:
        _event(
            session,
            actor,
            f"candidate.{status}",
            "candidate",
            candidate.id,
            candidate.id,
            reason=reason,
        )
        candidate.status, candidate.updated_at = status, utcnow()


def news(name: str, at: datetime, timezone: str, *, verb: str = "wrote again") -> str:
    """What a hold says happened: "Jamie wrote again on 2026-03-02 at 10:14" (local time)."""
    local = at.astimezone(ZoneInfo(timezone))
    first = name.split(",")[-1].split()[0] if name.strip() else "The candidate"
    return f"{first} {verb} on {local:%Y-%m-%d} at {local:%H:%M}"


def set_aside(
    session: Session,
    drafts: Iterable[Draft],
    *,
    happened: str,
    since: datetime,
    actor: str,
    cancel_reason: str,
) -> tuple[int, int]:
    """Drafts that newer mail makes stale: cancel those no person touched, hold the others.

    A draft a person approved or edited before ``since`` (when the news arrived) is held with
    ``happened`` ("Jamie wrote again on … at 10:14") and what they did; one they worked on
    after it is theirs, made with the news in front of them, and left alone. Automation never
    cancels a person's work. Returns how many were cancelled and how many held.
    """
    cancelled = held = 0
    for draft in drafts:
        touched = queue.touched_at(session, draft)
        if touched is None:
            cancelled += queue.cancel(session, draft, actor=actor, reason=cancel_reason)
        elif touched < since:
            did = "approved" if draft.status in (queue.APPROVED, queue.QUEUED) else "edited"
            reason = f"{happened}, after you {did} this"
            held += sending.hold(session, draft, reason, actor=actor, now=utcnow())
    return cancelled, held


def record_reply(
    session: Session,
    conversation: Conversation,
    *,
    actor: str,
    reason: str = "replied",
    happened: str = "They replied",
    at: datetime | None = None,
) -> None:
    """A person answered: the recruiter should respond and the sequence stops.

    Pending follow-ups are set aside (``set_aside``), with ``happened`` as the news.
    """
    set_status(session, conversation, NEEDS_RESPONSE, actor=actor)
    cid = conversation.candidate_id
    stop_enrolments(session, cid, status="replied", reason=reason, actor=actor)
    follow_ups = session.scalars(
        select(Draft).where(
            Draft.candidate_id == cid,
            Draft.status.in_(queue.CANCELLABLE),
            Draft.kind.in_(FOLLOW_UPS),
        )
    )
    set_aside(
        session,
        follow_ups,
        happened=happened,
        since=at or utcnow(),
        actor=actor,
        cancel_reason=reason,
    )
    # Colleagues at the same company wait for the recruiter to decide.
    hold_colleagues(session, cid, actor=actor)


def record_answered(session: Session, conversation: Conversation, *, actor: str) -> None:
    """Our own message came after theirs: the conversation no longer waits for us."""
    if conversation.status == NEEDS_RESPONSE:
        set_status(session, conversation, OPEN, actor=actor)


def record_opt_out(
    session: Session,
    salt: str,
    candidate: Candidate,
    conversation: Conversation | None,
    *,
    actor: str,
    reason: str,
) -> None:
    """A clear opt-out: never contact the address again and cancel everything pending."""
    suppress(session, salt, candidate.email, "opted_out", actor)
    _set_candidate_status(session, candidate, "opted_out", actor=actor, reason=reason)
    cancel_pending(session, candidate.id, reason=reason, actor=actor)
    stop_enrolments(session, candidate.id, status="opted_out", reason=reason, actor=actor)
    if conversation is not None:
        set_status(session, conversation, CLOSED, actor=actor)


def record_hard_bounce(
    session: Session, salt: str, candidate: Candidate, *, actor: str, reason: str
) -> None:
    """The address does not exist: mark the candidate bounced and stop everything."""
    suppress(session, salt, candidate.email, "hard_bounce", actor)
    _set_candidate_status(session, candidate, "bounced", actor=actor, reason=reason)
    cancel_pending(session, candidate.id, reason=f"hard bounce: {reason}", actor=actor)
    stop_enrolments(session, candidate.id, status="bounced", reason=reason, actor=actor)


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
            _event(
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
