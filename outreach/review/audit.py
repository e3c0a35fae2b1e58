"""The audit event every change to a draft writes: who (``users`` names the actor), what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from outreach.store.models import Draft, Event, utcnow


def draft_event(
    session: Session,
    actor: str,
    action: str,
    draft: Draft,
    at: datetime | None = None,
    **details: Any,
) -> None:
    """Record ``action`` on the draft by ``actor`` at ``at`` (now when None)."""
    session.add(
        Event(
            at=at or utcnow(),
            actor=actor,
            action=action,
            subject_type="draft",
            subject_id=draft.id,
            candidate_id=draft.candidate_id,
            details=details,
        )
    )
