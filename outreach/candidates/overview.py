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


HANDLED = "candidate.data_request_handled"
ANSWERS = {"access": ("candidate.exported", HANDLED), "erasure": (HANDLED,)}


def open_requests(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    """Requests to see or erase one's data that nobody has answered yet, oldest first.

    An access request is answered by an export or by marking it handled; an erasure request
    by forgetting the person (which removes the request with everything else) or marking it.
    """
    requests = session.execute(
        select(Event, Candidate.email, Candidate.name)
        .join(Candidate, Candidate.id == Event.candidate_id)
        .where(Event.action == "candidate.data_request")
        .order_by(Event.at, Event.id)
    ).all()
    if not requests:
        return []
    ids = {event.candidate_id for event, _, _ in requests}
    answered: dict[tuple[int | None, str], Any] = {}
    for cid, action, at in session.execute(
        select(Event.candidate_id, Event.action, func.max(Event.at))
        .where(Event.candidate_id.in_(ids), Event.action.in_(["candidate.exported", HANDLED]))
        .group_by(Event.candidate_id, Event.action)
    ):
        answered[(cid, action)] = at
    found = []
    for event, email, name in requests:
        kind = str(event.details.get("kind", ""))
        done = [answered.get((event.candidate_id, a)) for a in ANSWERS.get(kind, (HANDLED,))]
        if any(at is not None and at >= event.at for at in done):
            continue
        found.append(
            {
                "candidate_id": event.candidate_id,
                "email": email,
                "name": name,
                "kind": kind,
                "at": event.at,
                "subject": event.details.get("subject", ""),
            }
        )
    return found[:limit]
