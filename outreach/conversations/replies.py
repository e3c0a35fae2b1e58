"""Answering from the thread: the reply box of the conversation page and `outreach reply`.

A reply answers one message: the one the person chose, else the candidate's latest message a
person wrote, else the thread's latest. It gets In-Reply-To and References from that message
(``mail.thread.answering``), its subject with one "Re:" (``approval.visible`` adds it to a
subject without a reply prefix), goes from the sender's own mailbox like every message, and,
with ``[conversations] quote = true``, ends with the answered text quoted the way mail clients
do (``mail.quoting``).

``send_reply`` is the approval gate for it: the text the person wrote or edited, with the
quote they were shown, becomes a revision authored by them (unless it is exactly the current
one), is approved by them at that revision, and is frozen into the outbox, where the sender
sends it. A draft that changed after the person opened it is not approved (the revision-seen
rule of ``queue.approve``). Suggestions nobody touched for the same conversation are cancelled:
the person answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.candidates.records import get_candidate, profile, suppression_reasons
from outreach.config import Settings
from outreach.conversations.reads import CONVERSATIONAL, Thread, messages_of
from outreach.conversations.threads import find
from outreach.drafting.drafter import Drafter, DraftSpec
from outreach.errors import InputError, StateError
from outreach.mail.quoting import quote, split_quote, with_quote
from outreach.mail.subjects import reply_subject
from outreach.mail.thread import answering
from outreach.review import opened, queue
from outreach.sending import freezing
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Draft, Message
from outreach.store.values import CandidateStatus

REPLY = "reply"


@dataclass(frozen=True)
class ReplyBox:
    """What the reply box shows: the open reply draft's text (without its quote), or none."""

    conversation_id: int
    answering: int | None  # the message answered (its row id)
    answering_from: str
    subject: str
    quoted: str  # the quote the reply will end with ("" when quoting is off)
    draft_id: int | None = None
    revision: int | None = None
    text: str = ""
    flags: list[dict[str, Any]] = field(default_factory=list)
    hold_reason: str = ""


@dataclass(frozen=True)
class Queued:
    """A reply approved and in the outbox."""

    draft_id: int
    outbox_id: int
    message_id: str
    to: str


def answered_message(
    session: Session, conversation: Conversation, message_id: int | None = None
) -> Message | None:
    """The message a reply answers: the one named, else their latest, else the thread's latest."""
    if message_id is not None:
        chosen = session.get(Message, message_id)
        if chosen is None or chosen.conversation_id != conversation.id:
            raise InputError(f"message {message_id} is not in conversation {conversation.id}")
        return chosen
    latest = select(Message).where(Message.conversation_id == conversation.id)
    order = (Message.date.desc(), Message.id.desc())
    theirs = session.scalars(
        latest.where(Message.direction == "in", Message.classification.in_(CONVERSATIONAL))
        .order_by(*order)
        .limit(1)
    ).first()
    return theirs or session.scalars(latest.order_by(*order).limit(1)).first()


def _quote_of(message: Message | None, candidate: Candidate, settings: Settings) -> str:
    if message is None or not settings.conversations.quote:
        return ""
    if message.direction == "in":
        author = f"{candidate.name} <{candidate.email}>" if candidate.name else candidate.email
    else:
        author = f"{settings.sender.name} <{settings.sender.email}>"
    text = message.reply_text.strip() or "(no text)"
    return quote(text, author=author, at=message.date, timezone=settings.sender.timezone)


def _thread_of(message: Message | None) -> tuple[str | None, list[str]]:
    if message is None:
        return None, []
    return answering(message.message_id, [str(r) for r in message.references], message.in_reply_to)


def reply_spec(
    session: Session,
    conversation: Conversation,
    candidate: Candidate,
    settings: Settings,
    *,
    message_id: int | None = None,
    instruction: str = "",
) -> DraftSpec:
    """What the drafter needs for a reply: the whole thread (ours too), threading and quote."""
    answered = answered_message(session, conversation, message_id)
    history = [
        {
            "from_name": candidate.name if m.direction == "in" else settings.sender.name,
            "date": m.date.isoformat() if m.date else "",
            "subject": m.subject,
            "text": m.text,
            "direction": m.direction,
        }
        for m in messages_of(session, conversation.id)
        if m.direction == "out" or m.classification in CONVERSATIONAL
    ]
    in_reply_to, references = _thread_of(answered)
    return DraftSpec(
        template=REPLY,
        conversation=history,
        conversation_id=conversation.id,
        in_reply_to=in_reply_to,
        references=references,
        quote=_quote_of(answered, candidate, settings),
        instruction=instruction,
    )


def reply_items(
    store: Store, settings: Settings, emails: list[str]
) -> tuple[list[tuple[dict[str, Any], DraftSpec]], list[str]]:
    """A reply spec for each candidate's latest conversation (`draft --template reply`).

    Returns what to draft, and "email: reason" for each candidate with nothing to answer.
    """
    items: list[tuple[dict[str, Any], DraftSpec]] = []
    skipped: list[str] = []
    with store.read() as session:
        suppressed = suppression_reasons(session, store.salt(), emails)
        for email in emails:
            candidate = session.scalars(
                select(Candidate).where(Candidate.email == email.strip().lower())
            ).first()
            if candidate is None:
                skipped.append(f"{email}: not a candidate; import them first")
                continue
            if email in suppressed or candidate.status != CandidateStatus.ACTIVE:
                skipped.append(f"{email}: {suppressed.get(email) or candidate.status}")
                continue
            conversation = session.scalars(
                select(Conversation)
                .where(Conversation.candidate_id == candidate.id)
                .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            ).first()
            if conversation is None:
                skipped.append(f"{email}: no conversation to reply to")
                continue
            items.append(
                (profile(candidate), reply_spec(session, conversation, candidate, settings))
            )
    return items, skipped


def open_reply(session: Session, conversation_id: int) -> Draft | None:
    """The conversation's reply draft a person can still change (the newest)."""
    return session.scalars(
        select(Draft)
        .where(
            Draft.conversation_id == conversation_id,
            Draft.kind == REPLY,
            Draft.status.in_(queue.OPEN),
        )
        .order_by(Draft.id.desc())
        .limit(1)
    ).first()


def reply_box(
    store: Store,
    settings: Settings,
    thread: Thread,
    email: str,
    *,
    viewer: str,
    now: datetime | None = None,
) -> ReplyBox:
    """The reply box of one conversation; showing a draft's text records it as read."""
    with store.session() as session:
        conversation = session.get_one(Conversation, thread.id)
        candidate = get_candidate(session, email)
        answered = answered_message(session, conversation)
        draft = open_reply(session, conversation.id)
        box = ReplyBox(
            conversation_id=conversation.id,
            answering=answered.id if answered else None,
            answering_from=answered.from_addr if answered else "",
            subject=reply_subject(answered.subject if answered else conversation.subject),
            quoted=_quote_of(answered, candidate, settings),
        )
        if draft is None:
            return box
        revision = queue.current(session, draft)
        text, quoted = split_quote(revision.body)
        opened.mark_viewed(session, draft, viewer, now=now)
        return replace(
            box,
            subject=reply_subject(revision.subject),
            quoted=quoted or box.quoted,
            draft_id=draft.id,
            revision=revision.number,
            text=text,
            flags=list(draft.flags),
            hold_reason=draft.hold_reason,
        )


async def draft_reply(
    store: Store,
    settings: Settings,
    drafter: Drafter,
    email: str,
    *,
    instruction: str = "",
    conversation_id: int | None = None,
) -> int:
    """Ask the model (or the `reply` template) for a reply draft; returns its id."""
    with store.session() as session:
        candidate = get_candidate(session, email)
        conversation = find(session, candidate, conversation_id)
        spec = reply_spec(session, conversation, candidate, settings, instruction=instruction)
        person = profile(candidate)
    report = await drafter.draft_items([(person, spec)])
    if not report.drafted:
        raise StateError(f"no reply drafted for {email}: {'; '.join(report.failed)}")
    return report.drafted[0]


def send_reply(
    store: Store,
    settings: Settings,
    email: str,
    text: str,
    *,
    actor: str,
    now: datetime,
    conversation_id: int | None = None,
    message_id: int | None = None,
    draft_id: int | None = None,
    seen: int | None = None,
) -> Queued:
    """Approve the reply the person wrote (and the quote they saw) and put it in the outbox."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError("the reply is empty; write it first")
    with store.session() as session:
        candidate = get_candidate(session, email)
        conversation = find(session, candidate, conversation_id)
        answered = answered_message(session, conversation, message_id)
        in_reply_to, references = _thread_of(answered)
        subject = answered.subject if answered else conversation.subject
        if draft_id is None:
            body = with_quote(text, _quote_of(answered, candidate, settings))
            draft = queue.create_draft(
                session,
                queue.NewDraft(
                    candidate_id=candidate.id, kind=REPLY, template="", subject=subject or "Re:",
                    body=body, author=actor, conversation_id=conversation.id,
                    in_reply_to=in_reply_to, references=references,
                ),
                actor=actor,
            )  # fmt: skip
            seen = draft.current_revision  # they wrote it: they read it
        else:
            draft = _their_draft(session, draft_id, candidate, conversation, seen)
            revision = queue.current(session, draft)
            _, quoted = split_quote(revision.body)
            body = with_quote(text, quoted or _quote_of(answered, candidate, settings))
            if body != revision.body:
                queue.add_revision(
                    session, draft, subject=revision.subject, body=body, author=actor, actor=actor
                )
                seen = draft.current_revision
        queue.approve(session, draft, actor=actor, sender=settings.sender.email, seen=seen)
        entry = freezing.enqueue(session, draft, settings, actor=actor, now=now)
        _cancel_suggestions(session, conversation.id, keep=draft.id, actor=actor)
        return Queued(draft.id, entry.id, entry.message_id, candidate.email)


def _their_draft(
    session: Session,
    draft_id: int,
    candidate: Candidate,
    conversation: Conversation,
    seen: int | None,
) -> Draft:
    draft = queue.get_draft(session, draft_id, lock=True)
    if draft.candidate_id != candidate.id or draft.kind != REPLY:
        raise InputError(f"draft {draft_id} is not a reply to {candidate.email}")
    if seen is None:
        raise InputError(f"draft {draft_id}: say which revision you read; open it again")
    if seen != draft.current_revision:
        raise queue.ChangedSinceOpened(draft.id, seen, draft.current_revision)
    if draft.conversation_id is None:
        draft.conversation_id = conversation.id
    return draft


def _cancel_suggestions(session: Session, conversation_id: int, *, keep: int, actor: str) -> None:
    """Reply suggestions for this conversation that no person touched: the person answered."""
    for draft in session.scalars(
        select(Draft).where(
            Draft.conversation_id == conversation_id,
            Draft.kind == REPLY,
            Draft.id != keep,
            Draft.status.in_(queue.OPEN),
        )
    ):
        if queue.touched_at(session, draft) is None:
            queue.cancel(session, draft, actor=actor, reason=f"answered by {actor}")
