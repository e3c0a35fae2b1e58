"""Who is waiting on us: candidates whose last word has no answer yet, and feedback owed.

A conversation waits when its latest message a person wrote is the candidate's (a reply, a
calendar answer, an unclear opt-out: auto-replies and bounces never wait), nothing of ours
came after it (a message we queued, sent or may have sent counts; one that failed or was taken
out of the outbox does not), a person has not said "no answer needed" since it arrived, and
the conversation is not closed. It waits since the oldest of the candidate's messages after
our last one, and is overdue after ``conversations.answer_within_days``.

An interviewed candidate (``interviewed_at``) is owed feedback until a feedback message to
them is queued or sent after the interview; it is overdue after
``conversations.feedback_within_days``. Oldest first: who has waited longest is on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.conversations.reads import CLOSED, CONVERSATIONAL
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Message, OutboxEntry
from outreach.store.values import CandidateStatus

ANSWERED_BY = ("queued", "sending", "sent", "uncertain")  # our message is (or may be) out
FEEDBACK_SENT = ("queued", "sending", "sent", "uncertain")
ANSWER, FEEDBACK = "answer", "feedback"


@dataclass(frozen=True)
class Waiting:
    """One candidate waiting on us: for an answer, or for feedback after an interview."""

    kind: str  # answer | feedback
    email: str
    name: str
    conversation_id: int | None
    subject: str
    since: datetime
    days: float  # how long they have waited
    overdue: bool
    excerpt: str  # the start of their last message (answer), or "" (feedback)


def waiting_conversations(session: Session, *, now: datetime, within: timedelta) -> list[Waiting]:
    """Conversations whose candidate waits for an answer, oldest first."""
    rows = session.execute(
        select(
            Message.conversation_id, Message.direction, Message.classification, Message.date,
            Message.created_at, Message.reply_text, Message.outbox_id, OutboxEntry.state,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(OutboxEntry, OutboxEntry.id == Message.outbox_id)
        .where(Conversation.status != CLOSED)
        .order_by(Message.conversation_id, Message.date, Message.id)
    ).all()  # fmt: skip
    by_conversation: dict[int, list[tuple[datetime, datetime, str]]] = {}
    written: dict[int, datetime] = {}  # our latest message, by its date
    queued: dict[int, datetime] = {}  # our latest answer queued here, by when it was stored
    for cid, direction, kind, date, created, text, outbox_id, state in rows:
        when = date or created
        if cid is None:
            continue
        if direction == "out":
            if state is None or state in ANSWERED_BY:
                written[cid] = max(when, written.get(cid, when))
                if outbox_id is not None:
                    queued[cid] = max(created, queued.get(cid, created))
        elif kind in CONVERSATIONAL:
            by_conversation.setdefault(cid, []).append((when, created, text))
    if not by_conversation:
        return []
    heads = {
        conv.id: (conv, cand)
        for conv, cand in session.execute(
            select(Conversation, Candidate)
            .join(Candidate)
            .where(Conversation.id.in_(list(by_conversation)))
        )
    }
    out = []
    for cid, theirs in by_conversation.items():
        conversation, candidate = heads[cid]
        # Answered: ours is dated after theirs, or was queued here after theirs was stored (a
        # candidate's clock may run ahead of ours).
        open_ = [
            t
            for t in theirs
            if not (cid in written and t[0] <= written[cid])
            and not (cid in queued and t[1] <= queued[cid])
        ]
        if conversation.no_answer_at is not None:  # a person said none is needed for these
            dismissed = conversation.no_answer_at
            open_ = [t for t in open_ if t[1] > dismissed]
        if not open_:
            continue
        since = open_[0][0]
        out.append(
            Waiting(
                kind=ANSWER, email=candidate.email, name=candidate.name, conversation_id=cid,
                subject=conversation.subject, since=since,
                days=(now - since).total_seconds() / 86400, overdue=now - since > within,
                excerpt=" ".join(open_[-1][2].split())[:160],
            )
        )  # fmt: skip
    return out


def feedback_owed(session: Session, *, now: datetime, within: timedelta) -> list[Waiting]:
    """Interviewed candidates with no feedback queued or sent since the interview."""
    sent = (
        select(OutboxEntry.id)
        .where(
            OutboxEntry.candidate_id == Candidate.id,
            OutboxEntry.kind == "feedback",
            OutboxEntry.state.in_(FEEDBACK_SENT),
            func.coalesce(OutboxEntry.sent_at, OutboxEntry.updated_at) >= Candidate.interviewed_at,
        )
        .exists()
    )
    rows = session.scalars(
        select(Candidate).where(
            Candidate.interviewed_at.is_not(None), Candidate.status == CandidateStatus.ACTIVE, ~sent
        )
    ).all()
    return [
        Waiting(
            kind=FEEDBACK, email=c.email, name=c.name, conversation_id=None,
            subject="Feedback after the interview", since=c.interviewed_at,
            days=(now - c.interviewed_at).total_seconds() / 86400,
            overdue=now - c.interviewed_at > within, excerpt="",
        )
        for c in rows
        if c.interviewed_at is not None
    ]  # fmt: skip


def waiting(store: Store, settings: Settings, *, now: datetime) -> list[Waiting]:
    """Everyone waiting on us, oldest first."""
    limits = settings.conversations
    with store.read() as session:
        found = waiting_conversations(
            session, now=now, within=timedelta(days=limits.answer_within_days)
        ) + feedback_owed(session, now=now, within=timedelta(days=limits.feedback_within_days))
    return sorted(found, key=lambda w: (w.since, w.email))


def summary_line(found: list[Waiting]) -> str:
    """ "3 candidates waiting for an answer, oldest 4 days" (and feedback owed), or ""."""
    parts = []
    answers = [w for w in found if w.kind == ANSWER]
    owed = [w for w in found if w.kind == FEEDBACK]
    if answers:
        who = "candidate" if len(answers) == 1 else "candidates"
        oldest = age(max(w.days for w in answers))
        parts.append(f"{len(answers)} {who} waiting for an answer, oldest {oldest}")
    if owed:
        parts.append(f"{len(owed)} owed feedback after an interview")
    return "; ".join(parts)


def age(days: float) -> str:
    """How long, as a person says it: "4 days", "1 day", "5 hours", "10 minutes"."""
    if days >= 1:
        n = int(days)
        return f"{n} day{'s' if n != 1 else ''}"
    hours = int(days * 24)
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(int(days * 1440), 0)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
