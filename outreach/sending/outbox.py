"""The outbox: approved drafts frozen as exact bytes, each sent exactly once or visibly not.

    queued ──claim (committed before connecting)──▶ sending ──250──▶ sent
      ▲ ▲ │                                            │ 4xx / connection error: queued, backoff
      │ │ └ suppressed, approval gone: cancelled        │ 5xx: failed, the server's reply kept
      │ └── a crash before its DATA began ◀─────────────┤
      └──── resolve --resend ◀── uncertain ◀────────────┘ no reply after the body, or a crash
                                    │                     once its DATA may have begun
                                    └ its copy is in the Sent folder: sent

A message enters the outbox only through ``freeze`` (``enqueue`` for one draft), which refuses
a draft whose approval does not cover what would be sent (``outreach.review.approval``), builds the
bytes, parses them back, and keeps them with their own hash; a draft refused there goes back to
pending with the reason. ``ledger.claim`` checks the approval and the bytes' hash again at send
time, along with suppression and the per-candidate first-contact cap, and the transport checks
the hash once more right before the message goes out. Every draft status change goes through
``outreach.review.queue`` so it is mirrored and audited. A message that waited for its turn gets a
fresh Date header (and hash) when it is claimed, and the outbox keeps the bytes that went out.
The async send loop lives in ``outreach.sending.sender``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Row, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.errors import NotApproved, NotFound, OutreachError, SendError, StateError
from outreach.mail.messages import Outgoing, digest, message_bytes
from outreach.review import approval, queue
from outreach.sending.pacing import Waiting
from outreach.store.models import Campaign, Candidate, Draft, Event, OutboxEntry, Revision

QUEUED, SENDING, SENT, FAILED, UNCERTAIN = (
    queue.QUEUED,
    queue.SENDING,
    queue.SENT,
    queue.FAILED,
    queue.UNCERTAIN,
)
CANCELLED = queue.CANCELLED
LEASE = timedelta(minutes=15)
PAUSED_RECHECK = timedelta(minutes=15)
MAX_ATTEMPTS = 8
DECIDE = "decide with `outreach outbox resolve {id} --sent|--resend`"


def backoff(attempts: int) -> timedelta:
    """How long a message waits after its n-th temporary failure: 5 min doubling, up to 6 h."""
    minutes: int = 5 * 2 ** min(max(attempts - 1, 0), 7)
    return min(timedelta(minutes=minutes), timedelta(hours=6))


@dataclass(frozen=True)
class Frozen:
    """The outbox row of an approved draft whose message was built and checked."""

    draft_id: int
    candidate_id: int
    entry_id: int | None  # a cancelled row of the same draft, reused
    values: dict[str, Any]


def _rows(session: Session, draft_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """Each draft with its current revision, candidate and outbox row: one query."""
    query = (
        select(
            Draft.id, Draft.kind, Draft.status, Draft.candidate_id, Draft.enrolment_id,
            Draft.approved_at, Draft.approved_by, Draft.approved_hash, Draft.approved_revision,
            Draft.current_revision, Draft.message_id, Draft.in_reply_to, Draft.references,
            Draft.due_at, Revision.subject, Revision.body, Candidate.name, Candidate.email,
            OutboxEntry.id.label("entry_id"), OutboxEntry.state.label("entry_state"),
        )
        .join(Candidate, Candidate.id == Draft.candidate_id)
        .outerjoin(
            Revision,
            and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision),
        )
        .outerjoin(OutboxEntry, OutboxEntry.draft_id == Draft.id)
        .where(Draft.id.in_(list(draft_ids)))
    )  # fmt: skip
    rows: list[Row[Any]] = list(session.execute(query))
    return {row.id: row for row in rows}


def _build(session: Session, row: Row[Any], settings: Settings, now: datetime) -> bytes:
    """The checked bytes of one approved draft; StateError or SendError says why not."""
    if row.status != queue.APPROVED:
        raise StateError(f"draft {row.id} is {row.status}; only approved drafts enter the outbox")
    if row.entry_state is not None and row.entry_state != CANCELLED:
        raise StateError(f"draft {row.id} is already in the outbox (entry {row.entry_id})")
    in_reply_to, references = approval.thread(
        session,
        kind=row.kind,
        enrolment_id=row.enrolment_id,
        in_reply_to=row.in_reply_to,
        references=row.references,
    )
    seen = None
    if row.subject is not None:
        seen = approval.visible(
            kind=row.kind, to_name=row.name, to_email=row.email, subject=row.subject,
            body=row.body, in_reply_to=in_reply_to, references=references,
        )  # fmt: skip
    reason = approval.approval_problem(
        draft_id=row.id,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        approved_hash=row.approved_hash,
        approved_revision=row.approved_revision,
        current_revision=row.current_revision,
        fingerprint=approval.fingerprint(seen) if seen is not None else None,
        message_id=row.message_id,
    )
    if reason is not None or seen is None:
        raise NotApproved(
            f"{reason}; check it and approve it again (`outreach queue show {row.id}`)"
        )
    return message_bytes(
        Outgoing(
            from_name=settings.sender.name,
            from_email=settings.sender.email,
            to_name=seen.to_name,
            to_email=seen.to_email,
            subject=seen.subject,
            body_text=seen.body,
            message_id=row.message_id,
            date=now,
            in_reply_to=seen.in_reply_to,
            references=seen.references,
            html=settings.sender.html,
        )
    )


def build_all(
    session: Session, draft_ids: Sequence[int], settings: Settings, *, now: datetime
) -> tuple[list[Frozen], list[tuple[int, OutreachError]]]:
    """Build and check the message of each approved draft, in order; and why the others fail."""
    rows = _rows(session, draft_ids)
    built: list[Frozen] = []
    refused: list[tuple[int, OutreachError]] = []
    for draft_id in dict.fromkeys(draft_ids):
        row = rows.get(draft_id)
        try:
            if row is None:
                raise NotFound(f"no draft {draft_id}; see `outreach queue list`")
            raw = _build(session, row, settings, now)
        except OutreachError as exc:
            refused.append((draft_id, exc))
            continue
        held = row.due_at is not None and row.due_at > now
        values = {
            "draft_id": row.id, "candidate_id": row.candidate_id,
            "mailbox": settings.sender.email, "message_id": row.message_id,
            "to_email": row.email, "raw": raw, "raw_hash": digest(raw),
            "approved_hash": row.approved_hash, "kind": row.kind, "state": QUEUED,
            "attempts": 0, "lease_until": None, "not_before": row.due_at if held else None,
            "wait_reason": "due later" if held else "", "last_reply": "", "updated_at": now,
        }  # fmt: skip
        built.append(Frozen(row.id, row.candidate_id, row.entry_id, values))
    return built, refused


def freeze(
    session: Session, draft_ids: Sequence[int], settings: Settings, *, actor: str, now: datetime
) -> tuple[dict[int, int], list[tuple[int, OutreachError]]]:
    """Freeze approved drafts' exact, checked bytes in the outbox as ``queued``.

    The one door into the outbox (``enqueue`` is the one-draft form). A draft whose approval
    no longer covers what would be sent, or whose message cannot be built or does not read
    back as approved, goes back to pending with the reason (``queue.withdraw``). Returns the
    outbox row of each frozen draft, and each refused draft with why.
    """
    built, refused = build_all(session, draft_ids, settings, now=now)
    for draft_id, exc in refused:
        draft = session.get(Draft, draft_id)
        if draft is not None and draft.status == queue.APPROVED and _withdraws(exc):
            queue.withdraw(session, draft, actor=actor, reason=str(exc))
    entries: dict[int, int] = {}
    fresh = [item.values | {"created_at": now} for item in built if item.entry_id is None]
    if fresh:
        insert_rows = insert(OutboxEntry).returning(OutboxEntry.draft_id, OutboxEntry.id)
        entries.update({int(d): int(e) for d, e in session.execute(insert_rows, fresh)})
    reused = [item.values | {"id": item.entry_id} for item in built if item.entry_id is not None]
    if reused:
        session.execute(update(OutboxEntry), reused)
        entries.update({int(v["draft_id"]): int(v["id"]) for v in reused})
    queue.set_status_many(
        session,
        [(item.draft_id, item.candidate_id, QUEUED, {"outbox": entries[item.draft_id]})
         for item in built],
        actor=actor,
        now=now,
    )  # fmt: skip
    return entries, refused


def _withdraws(exc: OutreachError) -> bool:
    """Whether a refusal means the approval no longer holds (not: already queued, or gone)."""
    return isinstance(exc, NotApproved | SendError)


def enqueue(
    session: Session, draft: Draft, settings: Settings, *, actor: str, now: datetime
) -> OutboxEntry:
    """Freeze one approved draft into the outbox; the reason it cannot be is raised.

    CLI, web and API call this (the sender freezes in bulk with ``freeze``).
    """
    entries, refused = freeze(session, [draft.id], settings, actor=actor, now=now)
    if refused:
        raise refused[0][1]
    session.expire(draft)  # its status changed in bulk
    return session.get_one(OutboxEntry, entries[draft.id])


def approved_draft_ids(session: Session) -> list[int]:
    """Approved drafts that are not in the outbox yet, oldest approval first."""
    query = select(Draft.id).where(Draft.status == queue.APPROVED).order_by(Draft.approved_at)
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


def retry_campaign(session: Session, campaign: Campaign, *, actor: str, now: datetime) -> int:
    """Queue a campaign's failed messages to be sent again; return how many."""
    ids = session.scalars(
        select(OutboxEntry.id)
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .where(Draft.campaign_id == campaign.id, OutboxEntry.state == FAILED)
    ).all()
    count = sum(retry_failed(session, i, actor=actor, now=now) for i in ids)
    session.add(
        Event(
            actor=actor,
            action="campaign.retried",
            subject_type="campaign",
            subject_id=campaign.id,
            details={"messages": count},
        )
    )
    return count


def found_in_sent_folder(session: Session, entry_id: int, *, now: datetime, actor: str) -> bool:
    """A message whose copy is in the Sent folder was sent: uncertain, or still queued.

    A queued one went out before this store knew it (it was restored from a backup).
    Returns whether the row changed.
    """
    entry = session.get(OutboxEntry, entry_id)
    draft = session.get(Draft, entry.draft_id) if entry else None
    if entry is None or draft is None or entry.state not in (UNCERTAIN, QUEUED):
        return False
    reply = "found in the Sent folder"
    if entry.state == QUEUED:
        reply += " before sending: it went out already (was the store restored from a backup?)"
    entry.state, entry.sent_at, entry.filed_sent, entry.updated_at = SENT, now, True, now
    entry.wait_reason, entry.last_reply = "", reply
    queue.set_status(session, draft, SENT, actor=actor, resolved_by="sent folder")
    return True


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
