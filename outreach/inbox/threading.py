"""Thread a synced message onto a candidate conversation, by this cascade (docs/architecture.md):

1. its own Message-ID, then In-Reply-To and References (newest first), against the Message-IDs
   of our drafts and outbox and of messages stored before;
2. the sender (for our own mail: a recipient) who is a known candidate, with the same
   normalised subject, within ``WINDOW`` of that conversation's last message;
3. that candidate's latest conversation, for bounces and auto-replies (their subjects are
   the server's, not the thread's);
4. otherwise a new conversation with that candidate.

No candidate found means the message is not candidate mail: it is not stored. Gmail's thread
id (X-GM-THRID) is not used: In-Reply-To and References match the same messages on Gmail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.conversations.threads import open_conversation
from outreach.mail.subjects import normalise_subject
from outreach.store.models import Conversation, Draft, Message, OutboxEntry, Revision

WINDOW = timedelta(days=60)


@dataclass(frozen=True)
class Match:
    """The conversation a message belongs to, and which rule found it."""

    candidate_id: int
    conversation: Conversation
    how: str  # ours | thread | subject | latest | new


def match(
    session: Session,
    *,
    ids: Sequence[str],
    candidate_ids: Sequence[int],
    subject: str,
    when: datetime,
    prefer_latest: bool,
    actor: str,
) -> Match | None:
    """Find (or open) the conversation for a message; None when it concerns no candidate.

    ``ids`` are the message's own Message-ID first, then the ids it refers to, most relevant
    first; ``candidate_ids`` are the candidates among its sender (or recipients) in order.
    """
    for position, message_id in enumerate(ids):
        found = _by_message_id(session, message_id, when, actor)
        if found is not None:
            candidate_id, conversation = found
            return Match(candidate_id, conversation, "ours" if position == 0 else "thread")
    if not candidate_ids:
        return None
    candidate_id = candidate_ids[0]
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.candidate_id == candidate_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    ).all()
    wanted = normalise_subject(subject)
    for conversation in conversations:
        last = conversation.last_message_at or conversation.created_at
        if wanted and normalise_subject(conversation.subject) == wanted and when - last <= WINDOW:
            return Match(candidate_id, conversation, "subject")
    if prefer_latest and conversations:
        return Match(candidate_id, conversations[0], "latest")
    conversation = open_conversation(session, candidate_id, subject, when, actor=actor)
    return Match(candidate_id, conversation, "new")


def _by_message_id(
    session: Session, message_id: str, when: datetime, actor: str, depth: int = 0
) -> tuple[int, Conversation] | None:
    """The candidate and conversation of a stored message or one of our drafts."""
    stored = session.execute(
        select(Message.candidate_id, Message.conversation_id)
        .where(Message.message_id == message_id, Message.conversation_id.is_not(None))
        .limit(1)
    ).first()
    if stored is not None:
        conversation = session.get(Conversation, stored.conversation_id)
        if conversation is not None:
            return stored.candidate_id, conversation
    draft = session.scalar(select(Draft).where(Draft.message_id == message_id))
    if draft is None:
        draft = session.scalar(
            select(Draft).join(OutboxEntry).where(OutboxEntry.message_id == message_id)
        )
    if draft is None:
        return None
    conversation = (
        session.get(Conversation, draft.conversation_id) if draft.conversation_id else None
    )
    if conversation is None and depth < 3:
        # A follow-up continues the thread of the message it answers, if that one is known.
        for earlier in [draft.in_reply_to, *reversed([str(r) for r in draft.references])]:
            if earlier and earlier != message_id:
                found = _by_message_id(session, earlier, when, actor, depth + 1)
                if found is not None and found[0] == draft.candidate_id:
                    conversation = found[1]
                    break
    if conversation is None:
        subject = session.scalar(
            select(Revision.subject).where(
                Revision.draft_id == draft.id, Revision.number == draft.current_revision
            )
        )
        conversation = open_conversation(
            session, draft.candidate_id, subject or "", when, actor=actor
        )
    # Link the draft, so the conversation page and later replies find it directly.
    draft.conversation_id = conversation.id
    return draft.candidate_id, conversation
