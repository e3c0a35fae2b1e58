"""Which revision each reviewer has read: an approval must name the revision its reviewer opened.

Showing a draft (its page, ``queue show``, ``queue edit``, ``GET /api/drafts/{id}``) records
the revision on screen for that reviewer (``draft_views``, one row per draft and reviewer);
``queue.approve`` refuses a ``seen`` revision the draft has moved past, and bulk approval
approves each draft at the revision recorded here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from outreach.review.audit import draft_event
from outreach.store.models import Draft, DraftView, utcnow


def mark_viewed(session: Session, draft: Draft, actor: str, *, now: datetime | None = None) -> None:
    """Record that this reviewer has read the draft's current revision (approvals check it)."""
    now = now or utcnow()
    if draft.viewed_at is None:
        draft.viewed_at = now
    if seen_revision(session, draft.id, actor) == draft.current_revision:
        return
    values = {
        "draft_id": draft.id,
        "username": actor,
        "revision": draft.current_revision,
        "viewed_at": now,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(DraftView).values(values)
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[DraftView.draft_id, DraftView.username],
            set_={"revision": upsert.excluded.revision, "viewed_at": upsert.excluded.viewed_at},
        )
    )
    draft_event(session, actor, "draft.viewed", draft, now, revision=draft.current_revision)


def seen_revision(session: Session, draft_id: int, actor: str) -> int | None:
    """The revision of the draft this reviewer last read, or None when they never opened it."""
    return session.scalar(
        select(DraftView.revision).where(
            DraftView.draft_id == draft_id, DraftView.username == actor
        )
    )
