"""Honest numbers for a campaign: per campaign and per step, from the rows as they are.

A campaign whose sequences have all ended but that has failed or uncertain messages is
"completed with errors", and those messages are listed, never hidden in a total.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.lifecycle import get
from outreach.review import queue, reads
from outreach.review.edits import edit_share
from outreach.store import Store
from outreach.store.models import (
    Candidate,
    Conversation,
    Draft,
    Enrolment,
    Message,
    OutboxEntry,
    Revision,
)
from outreach.store.values import CampaignStatus, EnrolmentStatus

# A draft in any of these was approved by a person at some point.
APPROVED_ONCE = tuple(
    status
    for status in reads.STATUSES
    if status not in (queue.PENDING, queue.REJECTED, queue.CANCELLED)
)


@dataclass
class StepStats:
    step: int
    template: str
    drafted: int = 0
    approved: int = 0
    edited: int = 0
    edit_amount: float | None = None  # mean share of the words reviewers changed, 0..1
    rejected: int = 0
    sent: int = 0
    failed: int = 0
    uncertain: int = 0


@dataclass
class CampaignStats:
    name: str
    status: str
    enrolled: int = 0
    active: int = 0
    held: int = 0
    bounced: int = 0
    opted_out: int = 0
    auto_replies: int = 0
    human_replies: int = 0
    positive_replies: int = 0
    negative_replies: int = 0
    median_hours_to_reply: float | None = None
    steps: list[StepStats] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # failed / uncertain messages
    replies_by_day: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("drafted", "approved", "rejected", "sent", "failed", "uncertain")
        return {k: sum(getattr(s, k) for s in self.steps) for k in keys}


def collect(store: Store, name: str) -> CampaignStats:
    """Count everything about one campaign."""
    with store.session() as session:
        campaign = get(session, name)
        stats = CampaignStats(name=campaign.name, status=campaign.status)
        counts = dict(
            session.execute(
                select(Enrolment.status, func.count())
                .where(Enrolment.campaign_id == campaign.id)
                .group_by(Enrolment.status)
            ).all()
        )
        stats.enrolled = sum(counts.values())
        stats.active = counts.get(EnrolmentStatus.ACTIVE, 0)
        stats.held = counts.get(EnrolmentStatus.HELD, 0)
        stats.bounced = counts.get(EnrolmentStatus.BOUNCED, 0)
        stats.opted_out = counts.get(EnrolmentStatus.OPTED_OUT, 0)
        stats.steps = _steps(session, campaign.id, campaign.steps)
        _replies(session, campaign.id, campaign.created_at, stats)
        stats.problems = _problems(session, campaign.id)
        if (
            campaign.status == CampaignStatus.ACTIVE
            and stats.enrolled
            and not stats.active
            and not stats.held
        ):
            stats.status = "completed with errors" if stats.problems else "completed"
        return stats


def _steps(session: Session, campaign_id: int, steps: list[Any]) -> list[StepStats]:
    result = [StepStats(i, s["template"]) for i, s in enumerate(steps)]
    first = Revision.__table__.alias("first")
    rows = session.execute(
        select(Draft.step, Draft.status, Draft.current_revision, first.c.body, Revision.body)
        .join(first, and_(first.c.draft_id == Draft.id, first.c.number == 1))
        .join(
            Revision,
            and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision),
        )
        .where(Draft.campaign_id == campaign_id, Draft.status != queue.CANCELLED)
    ).all()
    amounts: dict[int, list[float]] = {}
    for step, status, current, original, final in rows:
        if step is None or step >= len(result):
            continue
        row = result[step]
        row.drafted += 1
        row.approved += status in APPROVED_ONCE
        row.rejected += status == queue.REJECTED
        row.sent += status == queue.SENT
        row.failed += status == queue.FAILED
        row.uncertain += status == queue.UNCERTAIN
        if status in APPROVED_ONCE:
            amount = edit_share(original, final) if current > 1 else 0.0
            row.edited += amount > 0
            amounts.setdefault(step, []).append(amount)
    for step, values in amounts.items():
        result[step].edit_amount = round(statistics.fmean(values), 3)
    return result


def _replies(session: Session, campaign_id: int, since: datetime, stats: CampaignStats) -> None:
    enrolled = select(Enrolment.candidate_id).where(Enrolment.campaign_id == campaign_id)
    rows = session.execute(
        select(Message.candidate_id, Message.classification, Message.date)
        .where(
            Message.candidate_id.in_(enrolled),
            Message.direction == "in",
            Message.date >= since,
        )
        .order_by(Message.date)
    ).all()
    first_reply: dict[int, datetime] = {}
    for candidate_id, kind, when in rows:
        if kind == "auto_reply":
            stats.auto_replies += 1
        elif kind in ("human", "opt_out_unclear"):
            stats.human_replies += 1
            if when is not None:
                first_reply.setdefault(candidate_id, when)
                day = when.date().isoformat()
                stats.replies_by_day[day] = stats.replies_by_day.get(day, 0) + 1
    sentiments = session.execute(
        select(Conversation.sentiment, func.count())
        .where(Conversation.candidate_id.in_(enrolled))
        .group_by(Conversation.sentiment)
    ).all()
    for sentiment, count in sentiments:
        if sentiment == "positive":
            stats.positive_replies = count
        elif sentiment == "negative":
            stats.negative_replies = count
    first_sent = dict(
        session.execute(
            select(Draft.candidate_id, func.min(OutboxEntry.sent_at))
            .join(OutboxEntry, OutboxEntry.draft_id == Draft.id)
            .where(Draft.campaign_id == campaign_id, OutboxEntry.sent_at.is_not(None))
            .group_by(Draft.candidate_id)
        ).all()
    )
    waits = []
    for cid, replied in first_reply.items():
        sent = first_sent.get(cid)
        if sent is not None and replied >= sent:
            waits.append((replied - sent).total_seconds() / 3600)
    stats.median_hours_to_reply = round(statistics.median(waits), 1) if waits else None


def _problems(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            OutboxEntry.id, OutboxEntry.state, OutboxEntry.last_reply, Candidate.email, Draft.step
        )
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .join(Candidate, Candidate.id == OutboxEntry.candidate_id)
        .where(
            Draft.campaign_id == campaign_id,
            OutboxEntry.state.in_((queue.FAILED, queue.UNCERTAIN)),
        )
        .order_by(OutboxEntry.id)
    ).all()
    return [
        {"outbox_id": i, "state": s, "reply": r, "email": e, "step": step}
        for i, s, r, e, step in rows
    ]
