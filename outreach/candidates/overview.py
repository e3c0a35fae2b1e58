"""Everything stored about one candidate, read in one place: the candidate page and the
Art. 15 export (``outreach.candidates.export``) both start here.

It reads the other stages' tables directly (drafts, messages, enrolments, events): reading
is not owning, and the candidate's page must show all of it whatever stage wrote it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from outreach.candidates.records import profile
from outreach.errors import NotFound
from outreach.store.models import (
    Campaign,
    Candidate,
    CandidateTag,
    Conversation,
    Draft,
    Enrolment,
    Event,
    Message,
    Revision,
)

EVENTS_SHOWN = 100


def get(session: Session, candidate_id: int) -> Candidate:
    """The candidate with this id; NotFound (with what to do) when there is none."""
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise NotFound(f"no candidate {candidate_id}; it may have been forgotten")
    return candidate


def tags_of(session: Session, candidate_id: int) -> list[str]:
    """The candidate's tags, sorted."""
    return sorted(
        session.scalars(select(CandidateTag.tag).where(CandidateTag.candidate_id == candidate_id))
    )


def overview(
    session: Session, candidate: Candidate, *, events: int = EVENTS_SHOWN
) -> dict[str, Any]:
    """The candidate page: profile, conversations, drafts, enrolments and recent events."""
    cid = candidate.id
    counts = dict(
        session.execute(
            select(Message.conversation_id, func.count())
            .where(Message.candidate_id == cid)
            .group_by(Message.conversation_id)
        ).all()
    )
    conversations = [
        {
            "id": c.id,
            "subject": c.subject,
            "status": c.status,
            "sentiment": c.sentiment,
            "last_message_at": c.last_message_at,
            "messages": counts.get(c.id, 0),
        }
        for c in session.scalars(
            select(Conversation)
            .where(Conversation.candidate_id == cid)
            .order_by(Conversation.last_message_at.desc())
        )
    ]
    drafts = [
        {
            "id": d.id,
            "kind": d.kind,
            "template": d.template,
            "status": d.status,
            "subject": subject,
            "created_at": d.created_at,
        }
        for d, subject in session.execute(
            select(Draft, Revision.subject)
            .join(
                Revision,
                (Revision.draft_id == Draft.id) & (Revision.number == Draft.current_revision),
            )
            .where(Draft.candidate_id == cid)
            .order_by(Draft.id.desc())
        )
    ]
    enrolments = [
        {
            "campaign": name,
            "campaign_id": e.campaign_id,
            "step": e.step,
            "status": e.status,
            "next_due_at": e.next_due_at,
            "stop_reason": e.stop_reason,
        }
        for e, name in session.execute(
            select(Enrolment, Campaign.name)
            .join(Campaign, Campaign.id == Enrolment.campaign_id)
            .where(Enrolment.candidate_id == cid)
            .order_by(Enrolment.id)
        )
    ]
    return {
        "profile": profile(candidate, tags_of(session, cid)),
        "created_at": candidate.created_at,
        "updated_at": candidate.updated_at,
        "conversations": conversations,
        "drafts": drafts,
        "enrolments": enrolments,
        "events": events_of(session, cid, limit=events),
    }


def events_of(session: Session, candidate_id: int, *, limit: int | None = None) -> list[Any]:
    """The audit events about this candidate, newest first."""
    query = (
        select(Event)
        .where(
            or_(
                Event.candidate_id == candidate_id,
                (Event.subject_type == "candidate") & (Event.subject_id == candidate_id),
            )
        )
        .order_by(Event.at.desc(), Event.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return [
        {
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "details": dict(e.details),
            "summary": _summary(e.details),
        }
        for e in session.scalars(query)
    ]


def _summary(details: dict[str, Any]) -> str:
    """A few words on what an event changed, for the page (names, never values)."""
    if details.get("fields"):
        return ", ".join(map(str, details["fields"]))
    for key in ("tag", "campaign", "template", "reason", "file"):
        if details.get(key):
            return str(details[key])
    return ""
