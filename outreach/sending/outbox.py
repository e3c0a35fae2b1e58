"""The outbox state machine: every state a message can be in, and every move between them.

    queued ──claim (committed before connecting)──▶ sending ──250──▶ sent
      ▲ ▲ │                                            │ 4xx / connection error: queued, backoff
      │ │ ├ suppressed, approval gone: cancelled        │ 5xx: failed, the server's reply kept
      │ │ └ a person's draft held by news: cancelled    │   └ retry (a person): queued
      │ └── a crash before its DATA began ◀─────────────┤
      └──── resolve --resend ◀── uncertain ◀────────────┘ no reply after the body, or a crash
                                    │                     once its DATA may have begun
                                    └ resolve --sent, or its copy is in the Sent folder: sent

A row enters as ``queued`` only through ``outreach.sending.freezing`` (approved drafts frozen
as exact, checked bytes). Everything after is here: ``claim`` (queued → sending, the one
conditional ``UPDATE … RETURNING``, so a row is claimed exactly once whatever the sender lock
says), ``outcome_values`` (sending → sent | queued | failed | uncertain, by the SMTP
outcome), ``resolve`` and ``retry_failed`` (a person's decisions), ``found_in_sent_folder``,
``cancel_entry`` and ``hold``. ``outreach.sending.ledger`` writes the outcomes and the progress
marks on the send path, and ``recovery.reconcile`` applies the crash arrows above after a sender
stopped. The draft of a message mirrors its row's state (``queue.set_status``), so every
change here also goes through ``outreach.review.queue`` and is audited.

A claim checks each row again: the approval's hash is computed afresh from what the store holds
now (candidate, revision, thread) — a draft whose recipient or text changed after approval goes
back to pending with the reason, unsent; frozen bytes that no longer match their own hash fail
loudly, unsent; a suppressed address is cancelled; the per-candidate first-contact cap holds a
first contact for later. A Date restamped at claim time gets its new hash in the same
transaction, and the transport checks that hash right before the message goes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Row, and_, func, select, update
from sqlalchemy.orm import Session

from outreach.candidates.records import suppression_reasons
from outreach.config import Settings
from outreach.errors import NotFound, StateError
from outreach.mail.messages import digest, restamp
from outreach.review import approval, queue
from outreach.servers.smtp import Accepted, Outcome, Permanent, Transient, Uncertain
from outreach.store.models import Campaign, Candidate, Draft, Event, OutboxEntry, Revision
from outreach.store.values import CandidateStatus

# The states of an outbox row; its draft shows the same name (``queue.set_status``).
QUEUED, SENDING, SENT, FAILED, UNCERTAIN = "queued", "sending", "sent", "failed", "uncertain"
CANCELLED = "cancelled"
STATES = (QUEUED, SENDING, SENT, FAILED, UNCERTAIN, CANCELLED)
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 8
DECIDE = "decide with `outreach outbox resolve {id} --sent|--resend`"


def backoff(attempts: int) -> timedelta:
    """How long a message waits after its n-th temporary failure: 5 min doubling, up to 6 h."""
    minutes: int = 5 * 2 ** min(max(attempts - 1, 0), 7)
    return min(timedelta(minutes=minutes), timedelta(hours=6))


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


@dataclass(frozen=True)
class Claimed:
    """A message this sender now owns: ``sending`` is committed, the bytes are ready."""

    id: int
    draft_id: int
    candidate_id: int
    message_id: str
    to_email: str
    raw: bytes
    attempt: int  # this attempt's number
    raw_hash: str  # of raw, committed with the claim; checked again right before sending


@dataclass(frozen=True)
class Skipped:
    id: int
    state: str  # cancelled | queued (held) | failed
    reason: str


def approval_refusal(row: Row[Any]) -> str | None:
    """``approval.approval_problem`` over a joined row: does the approval cover what is sent now?"""
    fingerprint = None
    if row.subject is not None:
        seen = approval.visible(
            kind=row.kind, to_name=row.candidate_name, to_email=row.candidate_email,
            subject=row.subject, body=row.body, in_reply_to=row.in_reply_to,
            references=row.references,
        )  # fmt: skip
        fingerprint = approval.fingerprint(seen)
    return approval.approval_problem(
        draft_id=row.draft_id,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        approved_hash=row.draft_hash,
        approved_revision=row.approved_revision,
        current_revision=row.current_revision,
        fingerprint=fingerprint,
        message_id=row.draft_message_id,
    )


def link_refusal(row: Row[Any]) -> str | None:
    """Why the frozen bytes are not those of the draft's current approval, or None."""
    if row.draft_hash != row.approved_hash or row.draft_message_id != row.message_id:
        return f"draft {row.draft_id} was approved again after its message was frozen"
    return None


def bytes_refusal(row: Row[Any]) -> str | None:
    """Why the frozen bytes cannot be trusted (they differ from their hash), or None."""
    if not row.raw_hash or digest(row.raw) != row.raw_hash:
        return (
            f"the frozen bytes of draft {row.draft_id} do not match the hash they were "
            "checked with; nothing was sent (approve the draft again to rebuild it)"
        )
    return None


def _load(session: Session, ids: Sequence[int]) -> list[Row[Any]]:
    query = (
        select(
            OutboxEntry.id, OutboxEntry.draft_id, OutboxEntry.candidate_id, OutboxEntry.state,
            OutboxEntry.kind, OutboxEntry.to_email, OutboxEntry.message_id,
            OutboxEntry.approved_hash, OutboxEntry.raw, OutboxEntry.raw_hash,
            OutboxEntry.attempts, Draft.status.label("draft_status"), Draft.approved_at,
            Draft.approved_by, Draft.approved_hash.label("draft_hash"), Draft.approved_revision,
            Draft.current_revision, Draft.message_id.label("draft_message_id"),
            Draft.in_reply_to, Draft.references, Revision.subject, Revision.body,
            Candidate.status.label("candidate_status"), Candidate.name.label("candidate_name"),
            Candidate.email.label("candidate_email"),
        )
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .join(Candidate, Candidate.id == OutboxEntry.candidate_id)
        .outerjoin(
            Revision,
            and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision),
        )
        .where(OutboxEntry.id.in_(ids))
    )  # fmt: skip
    return list(session.execute(query))


def _hold(session: Session, entry_id: int, until: datetime, reason: str, now: datetime) -> None:
    entry = session.get_one(OutboxEntry, entry_id)
    entry.not_before, entry.wait_reason, entry.updated_at = until, reason, now


def _withdraw(session: Session, row: Row[Any], reason: str, actor: str, now: datetime) -> None:
    """Take the row out of the outbox and its draft back to pending, with the reason."""
    entry = session.get_one(OutboxEntry, row.id)
    entry.state, entry.wait_reason, entry.updated_at = CANCELLED, reason, now
    queue.withdraw(session, session.get_one(Draft, row.draft_id), actor=actor, reason=reason)


def _fail(session: Session, row: Row[Any], reason: str, actor: str, now: datetime) -> None:
    """Fail the row loudly: it stays visible in `outreach outbox list` with the reason."""
    entry = session.get_one(OutboxEntry, row.id)
    entry.state, entry.wait_reason, entry.last_reply, entry.updated_at = FAILED, reason, reason, now
    draft = session.get_one(Draft, row.draft_id)
    queue.set_status(session, draft, FAILED, actor=actor, reason=reason)


def claim(
    session: Session,
    ids: Sequence[int],
    settings: Settings,
    *,
    salt: str,
    now: datetime,
    actor: str,
    epoch: str = "",
) -> tuple[list[Claimed], list[Skipped]]:
    """Check each row again and mark the sendable ones ``sending`` (commit before connecting).

    ``epoch`` is what the run's progress marks are written under (``Store.durability_epoch``).
    """
    rows = {row.id: row for row in _load(session, ids)}
    suppressed = suppression_reasons(session, salt, [row.to_email for row in rows.values()])
    firsts = [row.candidate_id for row in rows.values() if row.kind == "outreach"]
    contacts = first_contacts(session, firsts, settings, now=now)
    ready: list[Row[Any]] = []
    skipped: list[Skipped] = []
    for entry_id in ids:
        row = rows.get(entry_id)
        if row is None or row.state != QUEUED:
            continue
        reason = None
        if row.draft_status != QUEUED:
            reason = f"refused: draft {row.draft_id} is {row.draft_status}, not queued"
        elif (problem := approval_refusal(row)) is not None:
            reason = f"refused: {problem}; the draft is pending again"
            _withdraw(session, row, problem, actor, now)
            skipped.append(Skipped(row.id, CANCELLED, reason))
            continue
        elif (problem := link_refusal(row)) is not None:
            reason = f"refused: {problem}"
        elif (problem := bytes_refusal(row)) is not None:
            _fail(session, row, f"refused: {problem}", actor, now)
            skipped.append(Skipped(row.id, FAILED, f"refused: {problem}"))
            continue
        elif row.candidate_status != CandidateStatus.ACTIVE:
            reason = f"suppressed: {row.to_email} is {row.candidate_status}"
        elif row.to_email in suppressed:
            why = suppressed[row.to_email]
            reason = f"suppressed: {row.to_email} is on the suppression list ({why})"
        if reason is not None:
            cancel_entry(session, row.id, reason, actor=actor, now=now)
            skipped.append(Skipped(row.id, CANCELLED, reason))
            continue
        if row.kind == "outreach":
            times = contacts.setdefault(row.candidate_id, [])
            until = cap_hold(times, settings, now=now)
            if until is not None:
                cap = settings.pacing
                reason = (
                    f"first-contact cap ({cap.first_contact_cap} in "
                    f"{cap.first_contact_window_days} days) reached for {row.to_email}"
                )
                _hold(session, row.id, until, reason, now)
                skipped.append(Skipped(row.id, QUEUED, reason))
                continue
            times.insert(0, now)  # a second first contact in this batch counts too
        ready.append(row)
    session.flush()
    won = set(
        session.scalars(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_([row.id for row in ready]), OutboxEntry.state == QUEUED)
            .values(
                state=SENDING,
                attempts=OutboxEntry.attempts + 1,
                lease_until=now + LEASE,
                started_at=None,
                claim_epoch=epoch,
                updated_at=now,
            )
            .returning(OutboxEntry.id)
            .execution_options(synchronize_session=False)
        )
    )
    claimed = []
    for r in ready:
        if r.id not in won:
            continue  # another sender got there first
        raw = restamp(r.raw, now)
        raw_hash = r.raw_hash if raw is r.raw else digest(raw)
        claimed.append(
            Claimed(r.id, r.draft_id, r.candidate_id, r.message_id, r.to_email, raw,
                    r.attempts + 1, raw_hash)
        )  # fmt: skip
    # A message that waited for its turn goes out dated now; the outbox keeps the exact bytes,
    # and their new hash, in the transaction that claims them.
    by_id = {r.id: r.raw for r in ready}
    restamped = [
        {"id": c.id, "raw": c.raw, "raw_hash": c.raw_hash}
        for c in claimed
        if c.raw is not by_id[c.id]
    ]
    if restamped:
        session.execute(update(OutboxEntry), restamped)
    queue.set_status_many(
        session,
        [(c.draft_id, c.candidate_id, SENDING, {"attempt": c.attempt}) for c in claimed],
        actor=actor,
        now=now,
    )
    return claimed, skipped


def outcome_values(claimed: Claimed, outcome: Outcome | None, now: datetime) -> dict[str, Any]:
    """The outbox columns after an outcome (``None``: released unsent, the attempt undone)."""
    values: dict[str, Any] = {
        "id": claimed.id,
        "state": QUEUED,
        "attempts": claimed.attempt,
        "lease_until": None,
        "not_before": None,
        "sent_at": None,
        "last_reply": "",
        "wait_reason": "",
        "updated_at": now,
    }
    if outcome is None:
        values["attempts"] = claimed.attempt - 1
    elif isinstance(outcome, Accepted):
        values.update(state=SENT, sent_at=now, last_reply=outcome.reply)
    elif isinstance(outcome, Permanent):
        reply = f"{outcome.code} {outcome.reply}" if outcome.code else outcome.reply
        why = f"the server refused it: {reply}" if outcome.code else reply  # 0: refused here
        values.update(state=FAILED, last_reply=reply, wait_reason=why)
    elif isinstance(outcome, Transient):
        values["last_reply"] = outcome.reply
        if claimed.attempt >= MAX_ATTEMPTS:
            reason = f"gave up after {claimed.attempt} attempts: {outcome.reply}"
            values.update(state=FAILED, wait_reason=reason)
        else:
            values.update(
                not_before=now + backoff(claimed.attempt),
                wait_reason=f"temporary failure ({outcome.reply}); retrying",
            )
    elif isinstance(outcome, Uncertain):
        wait = f"{outcome.reason}; not confirmed, {DECIDE.format(id=claimed.id)}"
        values.update(state=UNCERTAIN, last_reply=outcome.reason, wait_reason=wait)
    return values


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
