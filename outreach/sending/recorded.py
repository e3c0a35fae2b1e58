"""Our own messages on their conversations, from the moment they enter the outbox.

``freeze`` calls ``record`` in the same transaction that puts approved messages in the outbox:
each becomes a ``Message`` (direction ``out``) on its conversation, with the exact subject and
text the recipient gets and its Message-ID. It holds no state of its own: ``outbox_id`` links
it to the outbox row, and every read takes queued, sending, sent, failed or uncertain from
there, so the thread can never disagree with the sender.

Its conversation is, in order: the one the draft names (a reply written on the conversation
page); the one holding a message it answers (In-Reply-To, References); the candidate's
conversation with the same subject (reply prefixes aside) within ``SAME_SUBJECT``; else a new
one. The row lives in the pseudo folder ``OUTBOX`` under the sync's mailbox name, with the
outbox id as its UID, so the sync, meeting the copy in the Sent folder (or Gmail's All Mail),
finds it by Message-ID and stores nothing twice. A message queued again after a person approved
a new text keeps its row, with the new text.

An answer queued after the candidate's last message means the conversation no longer waits
for us: ``needs_response`` becomes ``open`` (audited), as the sync does for mail the recruiter
sends from her own mail client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.mail.quoting import split_quote
from outreach.mail.subjects import normalise_subject
from outreach.review import approval
from outreach.servers.configured import mailbox_name
from outreach.store.bulk import bulk_insert
from outreach.store.models import Conversation, Draft, Event, Message, utcnow

OUTBOX = "(outbox)"  # the folder of our messages' rows; no mailbox has a folder by that name
SAME_SUBJECT = timedelta(days=60)
NEEDS_RESPONSE, OPEN = "needs_response", "open"


@dataclass(frozen=True)
class Outgoing:
    """One message just frozen into the outbox, as its recipient will see it."""

    entry_id: int
    draft_id: int
    candidate_id: int
    message_id: str
    to_email: str
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]
    size: int

    @classmethod
    def of(
        cls, entry_id: int, candidate_id: int, values: dict[str, Any], seen: approval.Visible
    ) -> Outgoing:
        """The message of an outbox row's values and what its approval covers."""
        return cls(
            entry_id=entry_id, draft_id=values["draft_id"], candidate_id=candidate_id,
            message_id=values["message_id"], to_email=seen.to_email, subject=seen.subject,
            body=seen.body, in_reply_to=seen.in_reply_to, references=seen.references,
            size=len(values["raw"]),
        )  # fmt: skip


def record(
    session: Session, messages: Sequence[Outgoing], settings: Settings, *, actor: str, now: datetime
) -> None:
    """Put each frozen message on its conversation (a new row, or the text of its old one).

    Set-based like the rest of ``freeze``: a handful of statements per batch, whatever its size.
    """
    if not messages:
        return
    mailbox = mailbox_name(settings)
    conversations = _conversations(session, messages, actor=actor, now=now)
    # By its place, not its link: a rebuilt outbox table (a migration) may have unset the link.
    existing = dict(
        session.execute(
            select(Message.uid, Message.id).where(
                Message.mailbox == mailbox,
                Message.folder == OUTBOX,
                Message.uidvalidity == 0,
                Message.uid.in_([m.entry_id for m in messages]),
            )
        ).all()
    )
    fresh, changed = [], []
    for out in messages:
        conversation_id, conversation = conversations[out.draft_id]
        text, quoted = split_quote(out.body)
        values = {
            "subject": out.subject, "reply_text": text, "elided_text": quoted,
            "date": now, "raw_size": out.size, "in_reply_to": out.in_reply_to,
            "references": list(out.references), "conversation_id": conversation_id,
            "outbox_id": out.entry_id,
        }  # fmt: skip
        if out.entry_id in existing:
            changed.append({"id": existing[out.entry_id], **values})
        else:
            fresh.append(
                {
                    "mailbox": mailbox, "folder": OUTBOX, "uidvalidity": 0, "uid": out.entry_id,
                    "message_id": out.message_id, "from_addr": settings.sender.email.lower(),
                    "to_addrs": [out.to_email], "direction": "out", "classification": "own",
                    "details": {"matched_by": "outbox"}, "candidate_id": out.candidate_id,
                    "flags": [], "raw": None, **values,
                }
            )  # fmt: skip
        if conversation is not None and (
            conversation.last_message_at is None or now > conversation.last_message_at
        ):
            conversation.last_message_at = now
    if fresh:
        session.execute(insert(Message), fresh)
    if changed:
        session.execute(update(Message), changed)
    touched = {c.id: c for _, c in conversations.values() if c is not None}
    _answered(session, touched, actor=actor, now=now)


def _conversations(
    session: Session, messages: Sequence[Outgoing], *, actor: str, now: datetime
) -> dict[int, tuple[int, Conversation | None]]:
    """The conversation of each message's draft, found (id and row) or opened (id).

    The draft is linked to it."""
    named = dict(
        session.execute(
            select(Draft.id, Draft.conversation_id).where(
                Draft.id.in_([m.draft_id for m in messages]), Draft.conversation_id.is_not(None)
            )
        ).all()
    )
    ids = {i for m in messages if m.draft_id not in named for i in _thread_ids(m)}
    by_id: dict[str, int] = {}
    if ids:
        rows = list(
            session.execute(
                select(Message.message_id, Message.conversation_id).where(
                    Message.message_id.in_(ids), Message.conversation_id.is_not(None)
                )
            ).all()
        )
        rows += session.execute(
            select(Draft.message_id, Draft.conversation_id).where(
                Draft.message_id.in_(ids), Draft.conversation_id.is_not(None)
            )
        ).all()
        by_id = {str(mid): int(cid) for mid, cid in rows if mid and cid}
    wanted = {
        m.draft_id: named.get(m.draft_id)
        or next((by_id[i] for i in reversed(_thread_ids(m)) if i in by_id), None)
        for m in messages
    }
    known = {
        c.id: c
        for c in session.scalars(
            select(Conversation).where(Conversation.id.in_({c for c in wanted.values() if c}))
        )
    }
    mine: dict[int, list[Conversation]] = {}  # the candidates' conversations, newest first
    loose = {m.candidate_id for m in messages if known.get(wanted[m.draft_id] or 0) is None}
    if loose:
        for theirs in session.scalars(
            select(Conversation)
            .where(Conversation.candidate_id.in_(loose))
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        ):
            mine.setdefault(theirs.candidate_id, []).append(theirs)
    found: dict[int, tuple[int, Conversation | None]] = {}
    opened: dict[tuple[int, str], list[int]] = {}  # (candidate, subject) -> its drafts
    for out in messages:
        conversation: Conversation | None = known.get(wanted[out.draft_id] or 0)
        if conversation is None or conversation.candidate_id != out.candidate_id:
            conversation = _by_subject(mine.get(out.candidate_id, []), out, now)
        if conversation is None:
            key = next(
                (k for k in opened if k[0] == out.candidate_id and _same(k[1], out.subject)),
                (out.candidate_id, out.subject),
            )
            opened.setdefault(key, []).append(out.draft_id)
        else:
            found[out.draft_id] = (conversation.id, conversation)
    if opened:  # new conversations, already touched by their first message: set-based
        keys = list(opened)
        made = session.scalars(
            insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True),
            [
                {"candidate_id": c, "subject": subject, "status": OPEN, "created_at": now,
                 "last_message_at": now, "sentiment": "", "no_answer_reason": ""}
                for c, subject in keys
            ],
        ).all()  # fmt: skip
        for key, conversation_id in zip(keys, made, strict=True):
            found.update({draft_id: (conversation_id, None) for draft_id in opened[key]})
        bulk_insert(
            session,
            Event.metadata.tables["events"],
            {"subject_id": list(made), "candidate_id": [c for c, _ in keys]},
            {"actor": actor, "action": "conversation.opened", "subject_type": "conversation",
             "at": now, "details": {"by": "outbox"}},
        )  # fmt: skip
    links = [
        {"id": draft_id, "conversation_id": conversation_id}
        for draft_id, (conversation_id, _) in found.items()
        if named.get(draft_id) != conversation_id
    ]
    if links:
        session.execute(update(Draft), links)
    return found


def _same(one: str, other: str) -> bool:
    return normalise_subject(one) == normalise_subject(other)


def _thread_ids(out: Outgoing) -> list[str]:
    """The ids this message answers, oldest first."""
    ids = list(out.references)
    if out.in_reply_to and out.in_reply_to not in ids:
        ids.append(out.in_reply_to)
    return ids


def _by_subject(
    conversations: list[Conversation], out: Outgoing, now: datetime
) -> Conversation | None:
    """The candidate's conversation with this subject (prefixes aside), recent enough."""
    wanted = normalise_subject(out.subject)
    if not wanted:
        return None
    for conversation in conversations:
        last = conversation.last_message_at or conversation.created_at
        if normalise_subject(conversation.subject) == wanted and now - last <= SAME_SUBJECT:
            return conversation
    return None


def _answered(
    session: Session, conversations: dict[int, Conversation], *, actor: str, now: datetime
) -> None:
    """Conversations waiting for us that this answer (queued after their last message) ends."""
    waiting = [c for c in conversations.values() if c.status == NEEDS_RESPONSE]
    if not waiting:
        return
    last_in = dict(  # when their latest message was stored: our answer is queued after it
        session.execute(
            select(Message.conversation_id, func.max(Message.created_at))
            .where(Message.conversation_id.in_([c.id for c in waiting]), Message.direction == "in")
            .group_by(Message.conversation_id)
        ).all()
    )
    for conversation in waiting:
        theirs = last_in.get(conversation.id)
        if theirs is None or theirs <= utcnow():
            conversation.status = OPEN
            session.add(
                Event(
                    actor=actor, action="conversation.open", subject_type="conversation",
                    subject_id=conversation.id, candidate_id=conversation.candidate_id,
                    details={"was": NEEDS_RESPONSE, "by": "answer queued"},
                )
            )  # fmt: skip
