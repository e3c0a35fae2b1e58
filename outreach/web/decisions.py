"""The draft page's decisions that go beyond approving: rejecting a campaign step and saying
what comes next, and deciding on a draft held by news (send anyway, rewrite, drop).

Rejecting a campaign step asks what next: skip the step, stop this person's sequence
(``followups.reject_step``), or rewrite the draft with the reason as the instruction (no
rejection at all: a new revision, ``Drafter.regenerate``). A held draft's three choices are
``outreach.review.held``'s. Every handler redirects (303) with a note of what happened.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from outreach.campaigns import followups
from outreach.drafting.drafter import Drafter, make_llm
from outreach.errors import InputError, OutreachError
from outreach.review import held, queue
from outreach.web.auth import context, flash, page_user
from outreach.web.views import back_to, next_after

router = APIRouter(include_in_schema=False)
Reviewer = Annotated[str, Depends(page_user)]


async def _rewrite(request: Request, draft_id: int, instruction: str, user: str) -> Response:
    """A new revision by the model following ``instruction``; back to the draft."""
    ctx = context(request)
    drafter = Drafter(ctx.settings, ctx.store, llm=make_llm(ctx.settings))
    try:
        revision = await drafter.regenerate(draft_id, instruction.strip(), actor=user)
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back_to(request, draft_id), status_code=303)
    finally:
        await drafter.aclose()
    flash(request, f"Rewritten as revision {revision.number}; read it, then approve it.")
    return RedirectResponse(back_to(request, draft_id), status_code=303)


@router.post("/drafts/{draft_id}/reject")
async def reject(
    request: Request,
    draft_id: int,
    user: Reviewer,
    reason: Annotated[str, Form()] = "",
    then: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    if then == "rewrite":
        if not reason.strip():
            flash(request, "Write the reason: the rewrite follows it.", "error")
            return RedirectResponse(back_to(request, draft_id), status_code=303)
        return await _rewrite(request, draft_id, reason, user)
    try:
        with ctx.store.session() as session:
            draft = queue.get_draft(session, draft_id, lock=True)
            if followups.is_step(draft) and draft.status in queue.OPEN:
                if then not in ("skip", "stop"):
                    raise InputError("say what comes next: skip this step, stop, or rewrite")
                outcome = followups.reject_step(
                    session, draft, then=then, reason=reason, actor=user,
                    settings=ctx.settings, now=ctx.clock(),
                )  # fmt: skip
            else:
                queue.reject(session, draft, actor=user, reason=reason, now=ctx.clock())
                outcome = ""
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back_to(request, draft_id), status_code=303)
    flash(request, f"Rejected draft {draft_id}." + (f" {outcome}." if outcome else ""))
    return RedirectResponse(next_after(request, draft_id), status_code=303)


@router.post("/drafts/{draft_id}/send-anyway")
def send_anyway(
    request: Request, draft_id: int, user: Reviewer, revision: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    try:
        if not revision.isdigit() or len(revision) > 9:
            raise InputError("the form did not say which revision you read; try again")
        with ctx.store.session() as session:
            draft = queue.get_draft(session, draft_id, lock=True)
            held.send_anyway(
                session, draft, actor=user, seen=int(revision),
                sender=ctx.settings.sender.email, now=ctx.clock(),
            )  # fmt: skip
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back_to(request, draft_id), status_code=303)
    flash(request, f"Approved draft {draft_id} as it is: it goes out in its turn (see Outbox).")
    return RedirectResponse(next_after(request, draft_id), status_code=303)


@router.post("/drafts/{draft_id}/rewrite")
async def rewrite(
    request: Request, draft_id: int, user: Reviewer, instruction: Annotated[str, Form()] = ""
) -> Response:
    return await _rewrite(request, draft_id, instruction, user)


@router.post("/drafts/{draft_id}/drop")
def drop(request: Request, draft_id: int, user: Reviewer) -> Response:
    ctx = context(request)
    try:
        with ctx.store.session() as session:
            draft = queue.get_draft(session, draft_id, lock=True)
            held.drop(session, draft, actor=user, now=ctx.clock())
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back_to(request, draft_id), status_code=303)
    flash(request, f"Dropped draft {draft_id}; it will not be sent.")
    return RedirectResponse(next_after(request, draft_id), status_code=303)
