"""The outbox in the JSON API: what waits and why, queue an approved draft, settle uncertain sends.

Queuing goes through ``sending.enqueue``, the one door into the outbox, which refuses any draft
whose approval does not cover its exact text (409). Sending itself is the sender's job
(`outreach send`, or the loop `outreach serve` runs).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from outreach.review import queue
from outreach.sending import outbox as sending
from outreach.sending.preview import outbox_listing
from outreach.store.models import utcnow
from outreach.web.auth import api_user, context

router = APIRouter(prefix="/api", tags=["outbox"])
Reviewer = Annotated[str, Depends(api_user)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Queued(BaseModel):
    id: int
    draft_id: int
    message_id: str
    state: str


class ResolveIn(BaseModel):
    sent: bool


@router.get("/outbox", response_model=list[dict[str, Any]])
def list_outbox(request: Request, user: Reviewer) -> list[dict[str, object]]:
    """Messages waiting, sending, uncertain or failed: queued ones in send order, with why."""
    ctx = context(request)
    return outbox_listing(ctx.store, ctx.settings, now=utcnow())


@router.post("/drafts/{draft_id}/send", response_model=Queued)
def queue_for_sending(request: Request, draft_id: Id, user: Reviewer) -> Queued:
    """Freeze an approved draft into the outbox now; the sender sends it when pacing allows."""
    ctx = context(request)
    with ctx.store.session() as session:
        draft = queue.get_draft(session, draft_id, lock=True)
        entry = sending.enqueue(session, draft, ctx.settings, actor=user, now=utcnow())
        return Queued(
            id=entry.id, draft_id=draft.id, message_id=entry.message_id, state=entry.state
        )


@router.post("/outbox/{entry_id}/resolve")
def resolve(request: Request, entry_id: Id, body: ResolveIn, user: Reviewer) -> dict[str, str]:
    """Settle an uncertain send: it arrived (`sent: true`), or send it again (`sent: false`)."""
    with context(request).store.session() as session:
        state = sending.resolve(session, entry_id, sent=body.sent, actor=user, now=utcnow())
    return {"state": state}
