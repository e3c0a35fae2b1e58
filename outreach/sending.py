"""The outbox: approved drafts frozen as exact bytes, each sent exactly once or visibly not.

    queued ──claim (committed before connecting)──▶ sending ──250──▶ sent
      ▲   │                                            │ 4xx / connection error: queued, backoff
      │   └ suppressed, approval gone: cancelled        │ 5xx: failed, the server's reply kept
      └──── resolve --resend ◀── uncertain ◀────────────┘ no reply after the body, or a crash

A message enters the outbox only through ``enqueue``, which refuses a draft whose approval
does not cover its exact text; ``claim`` checks again at send time, against the hash the bytes
were frozen from, along with suppression and the per-candidate first-contact cap. Every draft
status change goes through ``outreach.queue`` so it is mirrored and audited. A message that
waited for its turn gets a fresh Date header when it is claimed, and the outbox keeps the bytes
that went out. The async send loop lives in ``outreach.sender``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from . import queue
from .config import Settings
from .errors import NotFound, StateError
from .messages import Outgoing, build_message, message_bytes, reply_subject
from .pacing import Waiting
from .store.models import Campaign, Candidate, Draft, OutboxEntry

QUEUED, SENDING, SENT, FAILED, UNCERTAIN = (
    queue.QUEUED,
    queue.SENDING,
    queue.SENT,
    queue.FAILED,
    queue.UNCERTAIN,
)
CANCELLED = queue.CANCELLED
THREADED = ("follow_up", "reply")
LEASE = timedelta(minutes=15)
PAUSED_RECHECK = timedelta(minutes=15)
MAX_ATTEMPTS = 8
DECIDE = "decide with `outreach outbox resolve {id} --sent|--resend`"


def backoff(attempts: int) -> timedelta:
    """How long a message waits after its n-th temporary failure: 5 min doubling, up to 6 h."""
    minutes: int = 5 * 2 ** min(max(attempts - 1, 0), 7)
    return min(timedelta(minutes=minutes), timedelta(hours=6))


def _thread(session: Session, draft: Draft) -> tuple[str | None, list[str]]:
    """In-Reply-To and References: the draft's own, else the last message of its enrolment."""
    in_reply_to, references = draft.in_reply_to, [str(r) for r in draft.references]
    if in_reply_to is None and draft.kind in THREADED and draft.enrolment_id is not None:
        previous = session.execute(
            select(Draft.message_id, Draft.in_reply_to, Draft.references)
            .join(OutboxEntry, OutboxEntry.draft_id == Draft.id)
            .where(Draft.enrolment_id == draft.enrolment_id, OutboxEntry.state == SENT)
            .order_by(OutboxEntry.sent_at.desc())
            .limit(1)
        ).first()
        if previous is not None:
            in_reply_to = previous.message_id
            references = [str(r) for r in previous.references]
            if previous.in_reply_to:
                references.append(previous.in_reply_to)
    if in_reply_to is not None and in_reply_to not in references:
        references.append(in_reply_to)
    return in_reply_to, references


def build_draft_bytes(
    session: Session, draft: Draft, settings: Settings, *, now: datetime
) -> bytes:
    """The exact bytes of an approved draft's message; StateError when it is not approved."""
    reason = queue.approval_is_valid(session, draft)
    if reason is not None:
        raise StateError(f"{reason}; only approved text can be sent (`outreach queue approve`)")
    candidate = session.get(Candidate, draft.candidate_id)
    if candidate is None:  # pragma: no cover - the foreign key makes this impossible
        raise NotFound(f"draft {draft.id} has no candidate")
    revision = queue.current(session, draft)
    in_reply_to, references = _thread(session, draft)
    threaded = draft.kind in THREADED and in_reply_to is not None
    assert draft.message_id is not None  # approval_is_valid checked it
    message = build_message(
        Outgoing(
            from_name=settings.sender.name,
            from_email=settings.sender.email,
            to_name=candidate.name,
            to_email=candidate.email,
            subject=reply_subject(revision.subject) if threaded else revision.subject,
            body_text=revision.body,
            message_id=draft.message_id,
            date=now,
            in_reply_to=in_reply_to,
            references=tuple(references),
            html=settings.sender.html,
        )
    )
    return message_bytes(message)


def enqueue(
    session: Session, draft: Draft, settings: Settings, *, actor: str, now: datetime
) -> OutboxEntry:
    """Freeze an approved draft's exact bytes in the outbox as ``queued``.

    The one door into the outbox: CLI, web and API call this (or ``enqueue_approved``).
    """
    if draft.status != queue.APPROVED:
        raise StateError(
            f"draft {draft.id} is {draft.status}; only approved drafts enter the outbox"
        )
    raw = build_draft_bytes(session, draft, settings, now=now)
    assert draft.message_id is not None and draft.approved_hash is not None
    entry = session.scalar(select(OutboxEntry).where(OutboxEntry.draft_id == draft.id))
    if entry is not None and entry.state != CANCELLED:
        raise StateError(f"draft {draft.id} is already in the outbox (entry {entry.id})")
    candidate = session.get(Candidate, draft.candidate_id)
    assert candidate is not None
    if entry is None:
        entry = OutboxEntry(draft_id=draft.id, created_at=now)
    held = draft.due_at is not None and draft.due_at > now
    entry.candidate_id = draft.candidate_id
    entry.mailbox = settings.sender.email
    entry.message_id = draft.message_id
    entry.to_email = candidate.email
    entry.raw = raw
    entry.approved_hash = draft.approved_hash
    entry.kind = draft.kind
    entry.state = QUEUED
    entry.attempts = 0
    entry.lease_until = None
    entry.not_before = draft.due_at if held else None
    entry.wait_reason = "due later" if held else ""
    entry.last_reply = ""
    entry.updated_at = now
    session.add(entry)
    session.flush()
    queue.set_status(session, draft, QUEUED, actor=actor, outbox=entry.id)
    return entry


def approved_drafts(session: Session) -> list[Draft]:
    """Approved drafts that are not in the outbox yet, oldest approval first."""
    query = select(Draft).where(Draft.status == queue.APPROVED).order_by(Draft.approved_at)
    return list(session.scalars(query))


def first_contacts(
    session: Session, candidate_ids: Sequence[int], settings: Settings, *, now: datetime
) -> dict[int, list[datetime]]:
    """First contacts of each candidate within the window, newest first (uncertain ones count)."""
    if not candidate_ids:
        return {}
    window = timedelta(days=settings.pacing.first_contact_window_days)
    when = func.coalesce(OutboxEntry.sent_at, OutboxEntry.updated_at)
    rows = session.execute(
        select(OutboxEntry.candidate_id, when)
        .where(
            OutboxEntry.candidate_id.in_(candidate_ids),
            OutboxEntry.kind == "outreach",
            OutboxEntry.state.in_((SENT, SENDING, UNCERTAIN)),
            when >= now - window,
        )
        .order_by(when.desc())
    ).all()
    seen: dict[int, list[datetime]] = {}
    for candidate_id, at in rows:
        seen.setdefault(candidate_id, []).append(at)
    return seen


def cap_hold(times: Sequence[datetime], settings: Settings, *, now: datetime) -> datetime | None:
    """Until when the first-contact cap holds a new first contact (None: it may go)."""
    cap = settings.pacing.first_contact_cap
    if len(times) < cap:
        return None
    window = timedelta(days=settings.pacing.first_contact_window_days)
    return min(times[cap - 1], now) + window


def reconcile(session: Session, mailbox: str, *, now: datetime, actor: str) -> list[int]:
    """Rows left ``sending`` by a sender that stopped become ``uncertain``.

    Call it holding the mailbox lock: then no live sender owns them, whatever their lease says.
    """
    query = select(OutboxEntry).where(OutboxEntry.mailbox == mailbox, OutboxEntry.state == SENDING)
    found = []
    for entry in session.scalars(query):
        lease = entry.lease_until.isoformat(timespec="seconds") if entry.lease_until else "?"
        entry.state, entry.updated_at = UNCERTAIN, now
        entry.last_reply = f"the sender stopped while sending (lease until {lease})"
        entry.wait_reason = f"{entry.last_reply}; {DECIDE.format(id=entry.id)}"
        draft = session.get(Draft, entry.draft_id)
        if draft is not None:
            queue.set_status(session, draft, UNCERTAIN, actor=actor, reason=entry.last_reply)
        found.append(entry.id)
    return found


def resolve(session: Session, entry_id: int, *, sent: bool, actor: str, now: datetime) -> str:
    """A person's decision on an uncertain message: it was sent, or send it again."""
    entry = session.get(OutboxEntry, entry_id)
    if entry is None:
        raise NotFound(f"no outbox entry {entry_id}; see `outreach outbox list`")
    if entry.state != UNCERTAIN:
        raise StateError(f"outbox entry {entry_id} is {entry.state}; only uncertain ones resolve")
    draft = session.get(Draft, entry.draft_id)
    assert draft is not None
    entry.updated_at = now
    if sent:
        entry.state, entry.sent_at = SENT, now
        entry.wait_reason, entry.last_reply = "", f"marked as sent by {actor}"
    else:
        entry.state, entry.not_before, entry.wait_reason = QUEUED, None, f"resend by {actor}"
    queue.set_status(session, draft, entry.state, actor=actor, resolved_by=actor)
    return entry.state


def retry_failed(session: Session, entry_id: int, *, actor: str, now: datetime) -> bool:
    """Queue a message the server refused (5xx) once more, as the same message."""
    entry = session.get(OutboxEntry, entry_id)
    if entry is None or entry.state != FAILED:
        return False
    draft = session.get(Draft, entry.draft_id)
    assert draft is not None
    entry.state, entry.not_before, entry.updated_at = QUEUED, None, now
    entry.wait_reason = f"retry of a failed send, asked by {actor}"
    queue.set_status(session, draft, QUEUED, actor=actor, retry_of=entry.last_reply)
    return True


def found_in_sent_folder(session: Session, entry_id: int, *, now: datetime, actor: str) -> None:
    """An uncertain message whose copy is in the Sent folder was sent."""
    entry = session.get(OutboxEntry, entry_id)
    draft = session.get(Draft, entry.draft_id) if entry else None
    if entry is None or draft is None or entry.state != UNCERTAIN:
        return
    entry.state, entry.sent_at, entry.filed_sent, entry.updated_at = SENT, now, True, now
    entry.wait_reason, entry.last_reply = "", "found in the Sent folder"
    queue.set_status(session, draft, SENT, actor=actor, resolved_by="sent folder")


def follow_ups_to_check(session: Session, ids: Sequence[int]) -> list[tuple[int, str, datetime]]:
    """(entry id, address, our last send to them) for the follow-ups among these rows."""
    rows = session.execute(
        select(OutboxEntry.id, OutboxEntry.to_email, OutboxEntry.candidate_id).where(
            OutboxEntry.id.in_(list(ids)), OutboxEntry.kind == "follow_up"
        )
    ).all()
    if not rows:
        return []
    last = dict(
        session.execute(
            select(OutboxEntry.candidate_id, func.max(OutboxEntry.sent_at))
            .where(
                OutboxEntry.candidate_id.in_([r.candidate_id for r in rows]),
                OutboxEntry.state == SENT,
            )
            .group_by(OutboxEntry.candidate_id)
        ).all()
    )
    checks = []
    for row in rows:
        since = last.get(row.candidate_id)
        if since is not None:
            checks.append((int(row.id), str(row.to_email), since))
    return checks


def cancel_entry(
    session: Session, entry_id: int, reason: str, *, actor: str, now: datetime
) -> None:
    """Cancel a queued message and its draft, with the reason (it was never sent)."""
    entry = session.get(OutboxEntry, entry_id)
    if entry is None or entry.state != QUEUED:
        return
    entry.state, entry.wait_reason, entry.updated_at = CANCELLED, reason, now
    draft = session.get(Draft, entry.draft_id)
    if draft is not None:
        queue.cancel(session, draft, actor=actor, reason=reason)


def hold(session: Session, draft: Draft, reason: str, *, actor: str, now: datetime) -> bool:
    """Hold a draft a person approved or edited (``queue.hold``), taking it out of the outbox
    if it waits there; False when it has started sending and can no longer be held."""
    if draft.status == QUEUED:
        pulled = session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.draft_id == draft.id, OutboxEntry.state == QUEUED)
            .values(state=CANCELLED, wait_reason=f"held: {reason}", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not cast("CursorResult[Any]", pulled).rowcount:  # a sender claimed it just now
            return False
    return queue.hold(session, draft, reason=reason, actor=actor)


def waiting(session: Session, mailbox: str, settings: Settings, *, now: datetime) -> list[Waiting]:
    """The queued rows of a mailbox as pacing sees them (own holds included)."""
    rows = session.execute(
        select(OutboxEntry.id, OutboxEntry.kind, OutboxEntry.candidate_id, Candidate.timezone,
               OutboxEntry.not_before, OutboxEntry.wait_reason, Campaign.name, Campaign.status)
        .join(Candidate, Candidate.id == OutboxEntry.candidate_id)
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .outerjoin(Campaign, Campaign.id == Draft.campaign_id)
        .where(OutboxEntry.mailbox == mailbox, OutboxEntry.state == QUEUED)
    ).all()  # fmt: skip
    firsts = sorted({r.candidate_id for r in rows if r.kind == "outreach"})
    contacts = first_contacts(session, firsts, settings, now=now)
    items = []
    for r in rows:
        hold, reason = r.not_before, r.wait_reason
        cap_until = None
        if r.kind == "outreach":
            cap_until = cap_hold(contacts.get(r.candidate_id, []), settings, now=now)
        if cap_until is not None and (hold is None or cap_until > hold):
            hold, reason = cap_until, "first-contact cap reached for this candidate"
        if r.status == "paused":  # looked at again on every run: resuming releases it
            hold, reason = now + PAUSED_RECHECK, f"campaign {r.name} is paused; resume it to send"
        if hold is not None and hold <= now:
            hold = None
        items.append(Waiting(r.id, r.kind, r.timezone, hold, reason if hold else ""))
    return items


def history(
    session: Session, mailbox: str, *, now: datetime
) -> tuple[datetime | None, list[datetime]]:
    """The mailbox's last send and its sends of the last two days (uncertain ones count)."""
    when = func.coalesce(OutboxEntry.sent_at, OutboxEntry.updated_at)
    recent = list(
        session.scalars(
            select(when).where(
                OutboxEntry.mailbox == mailbox,
                or_(OutboxEntry.state == SENT, OutboxEntry.state == UNCERTAIN),
                when >= now - timedelta(days=2),
            )
        )
    )
    last = session.scalar(
        select(func.max(OutboxEntry.sent_at)).where(
            OutboxEntry.mailbox == mailbox, OutboxEntry.state == SENT
        )
    )
    return last, recent
