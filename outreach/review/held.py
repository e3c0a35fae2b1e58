"""A draft held by news: the reviewer decides to send it anyway, rewrite it, or drop it.

Automation never overrides a person's work (``outreach.conversations.stops.set_aside``): when a
candidate writes after a reviewer edited or approved a draft, the draft is held, pending, with
the news as its ``hold_reason`` ("Jamie replied on 2026-03-02 at 10:14, after you approved
this"). Nothing sends it and nothing replaces it until a person chooses:

    send anyway   approve the text they read again (``queue.approve``, which clears the hold);
                  the sender sends it in its turn
    rewrite       a new revision by the model, with the news as the instruction
                  (``Drafter.regenerate``); it stays held until approved
    drop          cancel it, with the news as the reason

The web page, the JSON API and `outreach queue held …` all call these.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.errors import StateError
from outreach.review import queue
from outreach.review.audit import draft_event
from outreach.store.models import Draft

CHOICES = ("send", "rewrite", "drop")


def held_drafts(session: Session) -> list[Draft]:
    """Drafts waiting for a person's decision after news arrived, oldest first."""
    return list(
        session.scalars(
            select(Draft)
            .where(Draft.status == queue.PENDING, Draft.hold_reason != "")
            .order_by(Draft.updated_at, Draft.id)
        )
    )


def _held(draft: Draft) -> None:
    if draft.status != queue.PENDING or not draft.hold_reason:
        raise StateError(f"draft {draft.id} is not held; see `outreach queue held`")


def send_anyway(
    session: Session,
    draft: Draft,
    *,
    actor: str,
    sender: str,
    seen: int | None,
    now: datetime | None = None,
) -> None:
    """Approve a held draft as it is: the person read the news and wants it sent."""
    _held(draft)
    news = draft.hold_reason
    queue.approve(session, draft, actor=actor, sender=sender, seen=seen, now=now)
    draft_event(session, actor, "draft.sent_anyway", draft, now, news=news)


def rewrite_instruction(hold_reason: str) -> str:
    """The instruction a rewrite follows by default: the news, to be taken into account."""
    news = hold_reason.split(", after you")[0]
    return f"{news}: take their latest message into account; do not repeat what it answers"


def drop(session: Session, draft: Draft, *, actor: str, now: datetime | None = None) -> None:
    """Cancel a held draft: after the news it should not go out."""
    _held(draft)
    reason = f"dropped by {actor}: {draft.hold_reason}"
    queue.cancel(session, draft, actor=actor, reason=reason, now=now)
