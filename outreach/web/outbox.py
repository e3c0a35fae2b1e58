"""The outbox page and its JSON: what waits and why, failed and uncertain sends, decided here.

The page lists the queue in send order with each message's next slot and why it waits, what is
sending, what was sent, failed messages with the server's reply and a Retry button, and
uncertain ones with "It was sent" / "Not sent: send again"; above them, the health of the
background loops. Queuing goes through ``freezing.enqueue``, the one door into the outbox,
which refuses any draft whose approval does not cover its exact text (409). Sending itself is
the sender's job (`outreach send`, or the loop `outreach serve` runs).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from outreach.errors import OutreachError
from outreach.jobs import health
from outreach.review import queue
from outreach.sending import freezing
from outreach.sending import outbox as sending
from outreach.sending.listing import outbox_view
from outreach.sending.preview import outbox_listing
from outreach.store.models import utcnow
from outreach.web.auth import api_user, context, flash, page_user, render

router = APIRouter(prefix="/api", tags=["outbox"])
pages = APIRouter(include_in_schema=False)
Reviewer = Annotated[str, Depends(api_user)]
PageReviewer = Annotated[str, Depends(page_user)]
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
        entry = freezing.enqueue(session, draft, ctx.settings, actor=user, now=utcnow())
        return Queued(
            id=entry.id, draft_id=draft.id, message_id=entry.message_id, state=entry.state
        )


@router.post("/outbox/{entry_id}/resolve")
def resolve(request: Request, entry_id: Id, body: ResolveIn, user: Reviewer) -> dict[str, str]:
    """Settle an uncertain send: it arrived (`sent: true`), or send it again (`sent: false`)."""
    with context(request).store.session() as session:
        state = sending.resolve(session, entry_id, sent=body.sent, actor=user, now=utcnow())
    return {"state": state}


@pages.get("/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, user: PageReviewer) -> Response:
    ctx = context(request)
    now = utcnow()
    view = outbox_view(ctx.store, ctx.settings, now=now)
    return render(request, "outbox.html", v=view, statuses=health.statuses(ctx.store, now=now))


@pages.post("/outbox/{entry_id}/retry")
def retry_page(request: Request, entry_id: Id, user: PageReviewer) -> Response:
    with context(request).store.session() as session:
        queued = sending.retry_failed(session, entry_id, actor=user, now=utcnow())
    if queued:
        flash(request, f"Message {entry_id} is queued again; the sender sends it in its turn.")
    else:
        flash(request, f"Message {entry_id} is no longer failed; nothing to retry.", "error")
    return RedirectResponse("/outbox#waiting", status_code=303)


@pages.post("/outbox/{entry_id}/resolve")
def resolve_page(
    request: Request, entry_id: Id, user: PageReviewer, decision: Annotated[str, Form()] = ""
) -> Response:
    if decision not in ("sent", "resend"):
        flash(request, "Say what happened: it was sent, or send it again.", "error")
        return RedirectResponse("/outbox#uncertain", status_code=303)
    try:
        with context(request).store.session() as session:
            state = sending.resolve(
                session, entry_id, sent=decision == "sent", actor=user, now=utcnow()
            )
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/outbox#uncertain", status_code=303)
    done = "marked as sent" if state == sending.SENT else "queued to be sent again"
    flash(request, f"Message {entry_id} {done}.")
    return RedirectResponse("/outbox", status_code=303)
