"""Follow-ups: when each step is due (in business days), drafting them, and the stop rules.

A follow-up is due when the previous step was sent and its wait has passed. ``advance``
drafts it into the review queue as a reply in the same thread; nothing is ever sent without
approval. What stops or moves a sequence (a reply, an absence, a bounce, an opt-out, a
colleague's reply) is in ``outreach.conversations.stops``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from outreach.campaigns.lifecycle import StartReport, draft_step
from outreach.config import Settings
from outreach.drafting.drafter import Drafter
from outreach.errors import InputError
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Campaign, Draft, Enrolment, Event, OutboxEntry, utcnow
from outreach.store.values import CampaignStatus, EnrolmentStatus

# Business days -------------------------------------------------------------------------


def add_business_days(start: date, days: int, holidays: Iterable[date] = ()) -> date:
    """The date `days` business days after `start` (weekends and holidays skipped)."""
    skip = set(holidays)
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in skip:
            remaining -= 1
    return current


def due_after(sent_at: datetime, wait_days: int, holidays: Iterable[date]) -> datetime:
    """When a follow-up waiting `wait_days` business days after `sent_at` becomes due."""
    day = add_business_days(sent_at.astimezone(UTC).date(), wait_days, holidays)
    return datetime.combine(day, sent_at.astimezone(UTC).timetz())


# Advancing --------------------------------------------------------------------------------


@dataclass
class AdvanceReport:
    scheduled: int = 0
    completed: int = 0
    stopped: int = 0
    drafted: int = 0
    problems: list[str] = field(default_factory=list)


def schedule(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    draft_ids: Sequence[int] | None = None,
) -> AdvanceReport:
    """Set when each enrolment's next step is due, from when its current step was sent.

    The sender calls it for the drafts it just sent (``draft_ids``), in the same transaction;
    ``advance`` calls it for everything, to catch steps settled another way (an uncertain
    send resolved by a person or found in the Sent folder).
    """
    report = AdvanceReport()
    holidays = settings.campaigns.holidays
    rows = session.execute(
        select(
            Enrolment.id, Enrolment.step, Enrolment.away_until, Draft.status,
            OutboxEntry.sent_at, Campaign.steps,
        )
        .join(Campaign, Campaign.id == Enrolment.campaign_id)
        .join(Draft, and_(Draft.enrolment_id == Enrolment.id, Draft.step == Enrolment.step))
        .outerjoin(OutboxEntry, OutboxEntry.draft_id == Draft.id)
        .where(
            Enrolment.status == EnrolmentStatus.ACTIVE,
            Enrolment.next_due_at.is_(None),
            Campaign.status == CampaignStatus.ACTIVE,
            Draft.status.in_((queue.SENT, queue.REJECTED)),
            *([Draft.id.in_(list(draft_ids))] if draft_ids is not None else []),
        )
    ).all()  # fmt: skip
    changes: list[dict[str, Any]] = []
    for enrolment_id, step, away, status, sent_at, steps in rows:
        change: dict[str, Any]
        if status == queue.REJECTED:
            change = {"status": "stopped", "stop_reason": "a reviewer rejected the draft"}
            report.stopped += 1
        elif step + 1 >= len(steps):
            change = {"status": "completed", "last_sent_at": sent_at}
            report.completed += 1
        else:
            sent = sent_at or now
            wait = int(steps[step + 1].get("wait_days", 1))
            planned = due_after(sent, wait, holidays)
            due_at = away if away is not None and away > planned else planned
            change = {"last_sent_at": sent, "next_due_at": due_at}
            report.scheduled += 1
        changes.append({"id": enrolment_id, **change})
    # One statement per kind of change, by primary key, rather than one UPDATE per row.
    for keys in {tuple(sorted(c)) for c in changes}:
        batch = [c for c in changes if tuple(sorted(c)) == keys]
        session.execute(update(Enrolment), batch)
    return report


def due(session: Session, *, now: datetime) -> list[tuple[int, int, int]]:
    """(campaign id, enrolment id, next step) of every enrolment whose next step is due."""
    rows = session.execute(
        select(Enrolment.campaign_id, Enrolment.id, Enrolment.step)
        .join(Campaign, Campaign.id == Enrolment.campaign_id)
        .where(
            Enrolment.status == EnrolmentStatus.ACTIVE,
            Enrolment.next_due_at <= now,
            Campaign.status == CampaignStatus.ACTIVE,
        )
    ).all()
    return [(c, e, s + 1) for c, e, s in rows]


async def advance(
    store: Store, settings: Settings, drafter: Drafter, *, now: datetime | None = None
) -> AdvanceReport:
    """Draft every follow-up that is due, as a reply in the same thread, into the queue."""
    now = now or utcnow()
    with store.session() as session:
        report = schedule(session, settings, now=now)
        work = due(session, now=now)
        by_step: dict[tuple[int, int], list[int]] = {}
        for campaign_id, enrolment_id, step in work:
            enrolment = session.get(Enrolment, enrolment_id)
            assert enrolment is not None
            enrolment.step, enrolment.next_due_at = step, None
            by_step.setdefault((campaign_id, step), []).append(enrolment_id)
        plans = {
            key: (c.steps[key[1]]["template"], dict(c.role))
            for key in by_step
            if (c := session.get(Campaign, key[0])) is not None
        }
    start_report = StartReport()
    for (campaign_id, step), ids in by_step.items():
        template, role = plans[(campaign_id, step)]
        await draft_step(
            store, drafter, campaign_id, step, template, role, start_report, None, now, ids
        )
    report.drafted, report.problems = start_report.drafted, start_report.problems
    return report


# A reviewer rejects a step ------------------------------------------------------------

THEN = ("skip", "stop", "rewrite")  # what follows a rejected campaign step


def is_step(draft: Draft) -> bool:
    """Whether the draft is a step of a campaign sequence (rejecting it asks what next)."""
    return None not in (draft.campaign_id, draft.enrolment_id, draft.step)


def reject_step(
    session: Session,
    draft: Draft,
    *,
    then: str,
    reason: str,
    actor: str,
    settings: Settings,
    now: datetime,
) -> str:
    """Reject a campaign step and go on as the reviewer chose: ``skip`` it (the next step is
    drafted when its wait has passed since our last mail) or ``stop`` this person's sequence.

    ``rewrite`` is no rejection: the caller regenerates the draft with the reason as the
    instruction. Returns what became of the enrolment, in words.
    """
    if then not in ("skip", "stop"):
        raise InputError(f"after rejecting a step: skip, stop or rewrite, not {then!r}")
    enrolment = session.get(Enrolment, draft.enrolment_id) if draft.enrolment_id else None
    campaign = session.get(Campaign, draft.campaign_id) if draft.campaign_id else None
    if enrolment is None or campaign is None or draft.step is None:
        raise InputError(f"draft {draft.id} is no campaign step; reject it without --then")
    if then == "skip" and draft.step == 0:
        raise InputError(
            f"draft {draft.id} is the first email of {campaign.name}: it cannot be skipped "
            "(stop the sequence, or rewrite it)"
        )
    queue.reject(session, draft, actor=actor, reason=reason, now=now)
    if then == "stop" or enrolment.status != EnrolmentStatus.ACTIVE:
        why = f"step {draft.step + 1} rejected by {actor}: {reason.strip()}"
        if enrolment.status == EnrolmentStatus.ACTIVE:
            enrolment.status, enrolment.stop_reason = EnrolmentStatus.STOPPED, why
            enrolment.next_due_at = None
        outcome = f"{campaign.name}: the sequence stopped"
    elif draft.step + 1 >= len(campaign.steps):
        enrolment.status, enrolment.next_due_at = EnrolmentStatus.COMPLETED, None
        outcome = f"{campaign.name}: that was the last step; the sequence is complete"
    else:
        since = enrolment.last_sent_at or now
        wait = int(campaign.steps[draft.step + 1].get("wait_days", 1))
        enrolment.next_due_at = max(due_after(since, wait, settings.campaigns.holidays), now)
        outcome = f"{campaign.name}: step {draft.step + 2} is drafted when due"
    session.add(
        Event(
            actor=actor, action=f"enrolment.step_{then}ped", subject_type="enrolment",
            subject_id=enrolment.id, candidate_id=enrolment.candidate_id,
            details={"draft": draft.id, "step": draft.step, "reason": reason.strip()},
        )
    )  # fmt: skip
    return outcome
