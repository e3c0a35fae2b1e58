"""After a crash: settle the outbox rows a stopped sender left ``sending``.

The ledger marks a row ``started_at`` before its DATA command, in the same commit as the
outcome of the message before it (``ledger.progress``), so at most one row per connection is
started and unrecorded. A started row may have gone out: ``uncertain``, for a person or the
Sent folder to decide. One never started goes back to ``queued``. ``claim_epoch`` tells a
process crash from a machine or database restart, after which progress marks may be lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.review import queue
from outreach.sending.outbox import DECIDE, FAILED, QUEUED, SENDING, SENT, UNCERTAIN
from outreach.store.models import Draft, OutboxEntry


@dataclass
class Reconciled:
    """What a run found left behind by a sender that stopped."""

    uncertain: list[int] = field(default_factory=list)  # outbox ids that may have gone out
    requeued: list[int] = field(default_factory=list)  # claimed but never attempted
    sent_drafts: list[int] = field(default_factory=list)  # drafts whose "sent" was not mirrored


def reconcile(
    session: Session, mailbox: str, *, epoch: str, now: datetime, actor: str
) -> Reconciled:
    """Settle the rows a stopped sender left ``sending``; call it holding the mailbox lock.

    A started row may have reached DATA: ``uncertain``. One never started goes back to the
    queue, its attempt undone. When the row was claimed under another durability epoch (the
    machine or the database server restarted since), its progress marks may be lost, so every
    row is ``uncertain``. Drafts still showing ``sending`` for rows whose outcome was recorded
    get that outcome mirrored now.
    """
    found = Reconciled()
    rows = session.execute(
        select(
            OutboxEntry.id, OutboxEntry.draft_id, OutboxEntry.candidate_id,
            OutboxEntry.started_at, OutboxEntry.claim_epoch, OutboxEntry.lease_until,
            OutboxEntry.attempts,
        ).where(OutboxEntry.mailbox == mailbox, OutboxEntry.state == SENDING)
    ).all()  # fmt: skip
    changes: list[dict[str, Any]] = []
    mirrors: list[tuple[int, int, str, dict[str, Any]]] = []
    for row in rows:
        values: dict[str, Any] = {"id": row.id, "updated_at": now, "lease_until": None}
        if row.claim_epoch and row.claim_epoch != epoch:
            why = "the machine or the database restarted while it was being sent"
        elif row.started_at is not None:
            at = row.started_at.isoformat(timespec="seconds")
            why = f"the sender stopped after its SMTP transaction began ({at})"
        else:
            values.update(state=QUEUED, attempts=max(row.attempts - 1, 0), wait_reason="")
            changes.append(values)
            mirrors.append((row.draft_id, row.candidate_id, QUEUED, {"reason": "never attempted"}))
            found.requeued.append(row.id)
            continue
        values.update(
            state=UNCERTAIN, last_reply=why, wait_reason=f"{why}; {DECIDE.format(id=row.id)}"
        )
        changes.append(values)
        mirrors.append((row.draft_id, row.candidate_id, UNCERTAIN, {"reason": why}))
        found.uncertain.append(row.id)
    if changes:
        session.execute(update(OutboxEntry), changes)
    lagging = session.execute(
        select(OutboxEntry.id, OutboxEntry.draft_id, OutboxEntry.candidate_id, OutboxEntry.state)
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .where(
            OutboxEntry.mailbox == mailbox,
            OutboxEntry.state.in_((QUEUED, SENT, FAILED, UNCERTAIN)),
            Draft.status == SENDING,
        )
    ).all()
    for entry_id, draft_id, candidate_id, state in lagging:
        mirrors.append((draft_id, candidate_id, state, {"outbox": entry_id, "recovered": True}))
        if state == SENT:
            found.sent_drafts.append(draft_id)
    queue.set_status_many(session, mirrors, actor=actor, now=now)
    return found
