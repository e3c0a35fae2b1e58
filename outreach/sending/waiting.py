"""What the outbox holds, as the sender's pacing and the outbox listings read it.

Read-only: every change of state is in ``outreach.sending.outbox``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.sending.outbox import QUEUED, SENT, UNCERTAIN, cap_hold, first_contacts
from outreach.sending.pacing import Waiting
from outreach.store.models import Campaign, Candidate, Draft, OutboxEntry

PAUSED_RECHECK = timedelta(minutes=15)


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
