"""Take in one fetched message: parse, trim, classify, thread, store, and apply the stop rules.

Runs inside the sync's transaction for a chunk of UIDs, so the rows, their consequences and the
folder's watermark commit together. A message already stored (the same UID, or the same
Message-ID seen again after a UIDVALIDITY change or in another folder) is re-linked or skipped,
never stored twice and never acted on twice. Our own messages are on their conversations from
the moment they were queued (``outreach.sending.recorded``): their Sent copies are recognised
by Message-ID and only settle an uncertain send.

A bounce is acted on (address suppressed, sequence stopped) only when it concerns mail we sent
to that address: anyone can write a delivery-failure notice, so any other one is kept, flagged
for a person to read, and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.conversations import stops
from outreach.conversations import threads as conversations
from outreach.inbox import data_requests
from outreach.inbox.classify import Classification, Kind, classify
from outreach.inbox.parse import Parsed, parse_message
from outreach.inbox.relevance import Known
from outreach.inbox.threading import match
from outreach.inbox.trim import Trimmed, trim_reply
from outreach.sending import outbox as sending
from outreach.sending import recorded
from outreach.servers.mailbox import FetchedBody, HeaderItem
from outreach.store.models import Candidate, Conversation, Draft, Event, Message, OutboxEntry

REPLIES = (Kind.HUMAN, Kind.CALENDAR_REPLY, Kind.OPT_OUT_UNCLEAR)
SENT_STATES = (sending.SENT, sending.SENDING, sending.UNCERTAIN)  # may have reached them
UNVERIFIED = "unverified-bounce"
NOT_ACTED = "names no mail we sent to this address: nothing suppressed, please read it"
_LIMITS = {"message_id": 998, "in_reply_to": 998, "from_addr": 320}


@dataclass
class Context:
    """What ingesting needs besides the message: where it is from, and what is known."""

    mailbox: str
    salt: str
    known: Known
    now: datetime
    actor: str = "sync"
    holidays: tuple[date, ...] = ()
    timezone: str = "UTC"  # the recruiter's, for the times holds mention
    counts: Counter[str] = field(default_factory=Counter)


def ingest(
    session: Session,
    ctx: Context,
    *,
    folder: str,
    uidvalidity: int,
    item: HeaderItem,
    body: FetchedBody,
    max_body_bytes: int,
) -> Message | None:
    """Store a message if it belongs to a candidate and apply what it means; else None."""
    parsed = parse_message(body.raw, max_body_bytes=max_body_bytes)
    when = parsed.date or item.internaldate or ctx.now
    if _already_stored(session, ctx, folder, uidvalidity, item.uid, parsed, body.size, when):
        return None
    direction = "out" if parsed.from_addr and parsed.from_addr.lower() in ctx.known.own else "in"
    flags = list(parsed.flags) + (["truncated"] if body.truncated else [])
    trimmed, verdict = _read(parsed, direction, ctx, flags)
    if verdict is not None and verdict.kind is Kind.MAILING_LIST:
        ctx.counts["ignored"] += 1
        return None
    candidates = ctx.known.candidates
    if direction == "out":
        people = [*parsed.to, *parsed.cc]
    else:
        people = [parsed.from_addr or "", *(verdict.failed_recipients if verdict else ())]
    ids = [parsed.message_id, *parsed.in_reply_to, *reversed(parsed.references)]
    if verdict is not None and verdict.original_message_id:
        ids.insert(1, verdict.original_message_id)
    found = match(
        session,
        ids=list(dict.fromkeys(i for i in ids if i)),
        candidate_ids=[candidates[a.lower()] for a in people if a.lower() in candidates],
        subject=parsed.subject,
        when=when,
        prefer_latest=verdict is not None and verdict.kind in (Kind.BOUNCE, Kind.AUTO_REPLY),
        actor=ctx.actor,
    )
    if found is None:
        ctx.counts["unrelated"] += 1
        return None
    trusted = True
    if verdict is not None and verdict.kind is Kind.BOUNCE:
        trusted = about_our_mail(session, verdict, found.candidate_id)
        if not trusted:
            flags.append(UNVERIFIED)
    details = _details(verdict, found.how, parsed)
    if not trusted:
        details["reason"] = " — ".join(filter(None, (details.get("reason"), NOT_ACTED)))
    message = Message(
        mailbox=ctx.mailbox,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=item.uid,
        message_id=_cut(parsed.message_id, "message_id"),
        in_reply_to=_cut(parsed.in_reply_to[0] if parsed.in_reply_to else None, "in_reply_to"),
        references=list(parsed.references),
        from_addr=_cut(parsed.from_addr, "from_addr") or "",
        to_addrs=[*parsed.to, *parsed.cc],
        date=when,
        subject=parsed.subject,
        direction=direction,
        classification=verdict.kind.value if verdict else "own",
        details=details,
        reply_text=trimmed.visible,
        elided_text=trimmed.elided,
        raw=body.raw,
        raw_size=body.size,
        flags=flags,
        candidate_id=found.candidate_id,
        conversation_id=found.conversation.id,
    )
    session.add(message)
    conversations.touch(found.conversation, when)
    ctx.known.add_ids([parsed.message_id])
    ctx.counts["stored"] += 1
    if direction == "out":
        _own_message(session, ctx, message, found.conversation)
    else:
        assert verdict is not None
        if trusted:
            _act(session, ctx, verdict, found.candidate_id, found.conversation, when)
        else:  # a person reads it; the conversation shows it waiting
            conversations.set_status(
                session, found.conversation, conversations.NEEDS_RESPONSE, actor=ctx.actor
            )
            ctx.counts["unverified_bounces"] += 1
        if verdict.kind in (*REPLIES, Kind.OPT_OUT):
            _data_request(session, ctx, message, found.conversation)
    return message


def about_our_mail(session: Session, verdict: Classification, candidate_id: int) -> bool:
    """Whether a bounce concerns mail we sent this candidate, so that it may be acted on.

    It must name the candidate's address among its failed recipients (when it names any) and
    either carry the Message-ID of a message we sent them, or be a delivery report whose
    Final-/Original-Recipient is their address, an address we have sent mail to.
    """
    candidate = session.get(Candidate, candidate_id)
    assert candidate is not None  # the foreign key guarantees it
    address = candidate.email.lower()
    if verdict.failed_recipients and address not in verdict.failed_recipients:
        return False
    drafts = select(Draft.id).where(
        Draft.candidate_id == candidate_id, Draft.status.in_(SENT_STATES)
    )
    own = select(Message.id).where(
        Message.candidate_id == candidate_id, Message.direction == "out"
    )  # mail the recruiter wrote them from her mail client, seen in the Sent folder
    original = verdict.original_message_id
    if original is not None and (
        session.scalar(drafts.where(Draft.message_id == original).limit(1)) is not None
        or session.scalar(own.where(Message.message_id == original).limit(1)) is not None
    ):
        return True
    return address in verdict.reported_recipients and (
        session.scalar(drafts.limit(1)) is not None or session.scalar(own.limit(1)) is not None
    )


def _read(
    parsed: Parsed, direction: str, ctx: Context, flags: list[str]
) -> tuple[Trimmed, Classification | None]:
    """Trim and classify; a failure here must not stop the sync, so it becomes a flag."""
    try:
        trimmed = trim_reply(parsed.text, parsed.html)
    except Exception:  # a trimmer bug: show the whole text, flagged
        trimmed = Trimmed(parsed.text or "", "")
        flags.append("trim-error")
    if direction == "out":
        return trimmed, None
    try:
        return trimmed, classify(parsed, trimmed.visible, today=ctx.now.date())
    except Exception:  # a classifier bug: a person reads it
        flags.append("classify-error")
        return trimmed, Classification(Kind.HUMAN, reason="could not classify")


def _already_stored(
    session: Session,
    ctx: Context,
    folder: str,
    uidvalidity: int,
    uid: int,
    parsed: Parsed,
    size: int,
    when: datetime,
) -> bool:
    """Tell whether the message is stored already; re-link it to its new UID if it moved."""
    here = select(Message.id).where(
        Message.mailbox == ctx.mailbox,
        Message.folder == folder,
        Message.uidvalidity == uidvalidity,
        Message.uid == uid,
    )
    if session.scalar(here) is not None:
        return True
    query = select(Message).where(Message.mailbox == ctx.mailbox)
    if parsed.message_id:
        query = query.where(Message.message_id == parsed.message_id)
    else:  # no Message-ID: the same sender, subject, size and date in the same folder
        query = query.where(
            Message.folder == folder,
            Message.message_id.is_(None),
            Message.from_addr == (parsed.from_addr or ""),
            Message.subject == parsed.subject,
            Message.raw_size == size,
            Message.date == when,
        )
    existing = session.scalars(query.order_by(Message.id)).all()
    if not existing:
        return False
    for row in existing:
        if row.folder == recorded.OUTBOX and row.outbox_id is not None:
            # The copy of a message we sent, on its conversation since it was queued.
            ctx.counts["own_recognised"] += 1
            _confirm(session, ctx, row.outbox_id)
            return True
    same_folder = [m for m in existing if m.folder == folder]
    if same_folder and all(m.uidvalidity != uidvalidity for m in same_folder):
        row = same_folder[0]
        row.uidvalidity, row.uid = uidvalidity, uid
        ctx.counts["relinked"] += 1
    return True


def _own_message(
    session: Session, ctx: Context, message: Message, conversation: Conversation
) -> None:
    """Our own mail in the Sent folder: confirm its outbox row and note the answer."""
    if message.message_id:
        entry_id = session.scalar(
            select(OutboxEntry.id).where(OutboxEntry.message_id == message.message_id)
        )
        if entry_id is not None:
            message.outbox_id = entry_id
            _confirm(session, ctx, entry_id)
    last_in = session.scalar(
        select(func.max(Message.date)).where(
            Message.conversation_id == conversation.id, Message.direction == "in"
        )
    )
    if last_in is None or (message.date is not None and message.date >= last_in):
        conversations.record_answered(session, conversation, actor=ctx.actor)


def _confirm(session: Session, ctx: Context, entry_id: int) -> None:
    """A copy in the mailbox proves an uncertain send went out."""
    state = session.scalar(select(OutboxEntry.state).where(OutboxEntry.id == entry_id))
    if state == sending.UNCERTAIN:
        sending.found_in_sent_folder(session, entry_id, now=ctx.now, actor=ctx.actor)
        ctx.counts["confirmed"] += 1


def _act(
    session: Session,
    ctx: Context,
    verdict: Classification,
    candidate_id: int,
    conversation: Conversation,
    when: datetime,
) -> None:
    """Apply the stop rule (``outreach.conversations.stops``) its kind calls for."""
    candidate = session.get(Candidate, candidate_id)
    assert candidate is not None  # the foreign key guarantees it
    reason = verdict.reason or verdict.kind.value
    kind = verdict.kind
    if kind is Kind.BOUNCE:
        if verdict.permanent:
            stops.record_hard_bounce(session, ctx.salt, candidate, actor=ctx.actor, reason=reason)
            ctx.counts["hard_bounces"] += 1
        else:
            ctx.counts["soft_bounces"] += 1
    elif kind in (Kind.OPT_OUT, Kind.COMPLAINT):
        stops.record_opt_out(
            session, ctx.salt, candidate, conversation, actor=ctx.actor, reason=reason
        )
        ctx.counts["opt_outs"] += 1
    elif kind in REPLIES:
        happened = stops.news(candidate.name or candidate.email, when, ctx.timezone, verb="replied")
        stops.record_reply(
            session, conversation, actor=ctx.actor, reason=reason, happened=happened, at=ctx.now
        )
        ctx.counts["flagged" if kind is Kind.OPT_OUT_UNCLEAR else "replies"] += 1
    elif kind is Kind.AUTO_REPLY:
        if verdict.return_date is not None:
            stops.record_absence(session, candidate_id, verdict.return_date, ctx.holidays)
        ctx.counts["auto_replies"] += 1
    else:
        ctx.counts[kind.value] += 1


def _data_request(
    session: Session, ctx: Context, message: Message, conversation: Conversation
) -> None:
    """Note a request to see or erase one's data and put it in front of the recruiter."""
    kind = data_requests.detect(message.reply_text)
    if kind is None:
        return
    message.details = {**message.details, "data_request": kind}
    session.flush()  # the message's id, for the event
    session.add(
        Event(
            actor=ctx.actor,
            action="candidate.data_request",
            subject_type="candidate",
            subject_id=message.candidate_id,
            candidate_id=message.candidate_id,
            details={"kind": kind, "message": message.id, "subject": message.subject[:200]},
        )
    )
    conversations.set_status(session, conversation, conversations.NEEDS_RESPONSE, actor=ctx.actor)
    ctx.counts["data_requests"] += 1


def _details(verdict: Classification | None, how: str, parsed: Parsed) -> dict[str, Any]:
    details: dict[str, Any] = {"matched_by": how}
    if parsed.attachments:
        details["attachments"] = [{"name": n, "size": s} for n, s in parsed.attachments]
    if verdict is None:
        return details
    if verdict.reason:
        details["reason"] = verdict.reason
    if verdict.permanent is not None:
        details["permanent"] = verdict.permanent
    if verdict.failed_recipients:
        details["failed_recipients"] = list(verdict.failed_recipients)
    if verdict.original_message_id:
        details["original_message_id"] = verdict.original_message_id
    if verdict.return_date is not None:
        details["return_date"] = verdict.return_date.isoformat()
    return details


def _cut(value: str | None, column: str) -> str | None:
    return None if value is None else value[: _LIMITS[column]]
