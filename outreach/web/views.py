"""Server-rendered pages: the queue and the draft page. POST handlers redirect (303).

Filters travel in the query string of every link and form, so "approve and go to next"
stays inside the slice of the queue the reviewer chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from outreach.drafting.drafter import Drafter, make_llm
from outreach.errors import OutreachError
from outreach.review import edits, held, opened, queue
from outreach.review import reads as review
from outreach.store.values import DraftKind
from outreach.web.auth import context, flash, page_user, render

router = APIRouter(include_in_schema=False)
Reviewer = Annotated[str, Depends(page_user)]


def parse_filters(params: Mapping[str, str]) -> review.Filters:
    """Filters from a query string; unknown values fall back to the defaults."""
    status = params.get("status", queue.PENDING)
    campaign = params.get("campaign", "")
    kind = params.get("kind", "")
    flagged = params.get("flagged", "")
    return review.Filters(
        status=status if status in review.STATUSES else queue.PENDING,
        campaign=int(campaign) if campaign.isdigit() and len(campaign) < 10 else None,
        kind=kind if kind in tuple(DraftKind) else None,
        flagged={"true": True, "false": False}.get(flagged),
    )


def _qs(filters: review.Filters, **extra: str | int) -> str:
    params: dict[str, str | int] = {**filters.params(), **extra}
    return ("?" + urlencode(params)) if params else ""


def back_to(request: Request, draft_id: int) -> str:
    """This draft's page, keeping the filters the request came with."""
    query = request.url.query
    return f"/drafts/{draft_id}{'?' + query if query else ''}"


def _draft_url(draft_id: int | None, filters: review.Filters) -> str:
    return f"/drafts/{draft_id}{_qs(filters)}" if draft_id else f"/queue{_qs(filters)}"


@router.get("/")
def home(_: Reviewer) -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, user: Reviewer, page: str = "1") -> Response:
    ctx = context(request)
    filters = parse_filters(request.query_params)
    number = int(page) if page.isdigit() and len(page) < 7 else 1
    with ctx.store.session() as session:
        counts = review.counts(session, archive=False)
        data: dict[str, Any] = {
            "listing": review.list_drafts(
                session, filters, page=number, status_counts=counts, viewer=user
            ),
            "counts": counts,
            "metrics": review.metrics(
                session,
                timezone=ctx.settings.sender.timezone,
                now=ctx.clock(),
                cache=ctx.edit_cache,
                status_counts=counts,
            ),
            "campaigns": review.campaigns(session),
        }
    partial = request.headers.get("hx-request") == "true"
    return render(
        request,
        "queue_list.html" if partial else "queue.html",
        filters=filters,
        qs=_qs(filters),
        page_qs=lambda n: _qs(filters, page=n),
        kinds=tuple(DraftKind),
        statuses=review.STATUSES,
        **data,
    )


@router.post("/queue/approve")
async def bulk_approve(request: Request, user: Reviewer) -> Response:
    ctx = context(request)
    filters = parse_filters(request.query_params)
    form = await request.form()
    ids = [int(v) for v in form.getlist("ids") if isinstance(v, str) and v.isdigit()]
    sender = ctx.settings.sender.email
    with ctx.store.session() as session:
        approved, skipped = queue.approve_viewed(
            session, ids, actor=user, sender=sender, now=ctx.clock()
        )
    if approved:
        flash(request, f"Approved {len(approved)} draft{'s' if len(approved) != 1 else ''}.")
    for reason in skipped:
        flash(request, f"Not approved: {reason}", "error")
    if not ids:
        flash(request, "Select drafts you have opened, then approve them.", "error")
    return RedirectResponse(f"/queue{_qs(filters)}", status_code=303)


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(request: Request, draft_id: int, user: Reviewer) -> Response:
    return _draft_page(request, draft_id, user)


def _draft_page(
    request: Request, draft_id: int, user: str, *, changed: str = "", status_code: int = 200
) -> Response:
    """The draft page; what it shows is recorded as read by this reviewer."""
    ctx = context(request)
    filters = parse_filters(request.query_params)
    with ctx.store.session() as session:
        draft = queue.get_draft(session, draft_id)
        opened.mark_viewed(session, draft, user, now=ctx.clock())
        detail = review.draft_detail(session, draft, filters)
    return render(
        request,
        "draft.html",
        status_code=status_code,
        changed=changed,
        d=detail,
        filters=filters,
        qs=_qs(filters),
        next_url=_draft_url(detail.next_id, filters),
        previous_url=_draft_url(detail.previous_id, filters) if detail.previous_id else "",
        llm=ctx.settings.llm.provider != "none",
        held_instruction=held.rewrite_instruction(detail.hold_reason),
    )


def next_after(request: Request, draft_id: int) -> str:
    ctx = context(request)
    filters = parse_filters(request.query_params)
    with ctx.store.session() as session:
        draft = queue.get_draft(session, draft_id)
        _, following = review.neighbours(session, draft, filters)
    if following is None:
        flash(request, "That was the last draft here; the queue is clear.")
    return _draft_url(following, filters)


@router.post("/drafts/{draft_id}/approve")
def approve(
    request: Request, draft_id: int, user: Reviewer, revision: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    if not revision.isdigit() or len(revision) > 9:
        flash(request, "The approval did not say which revision you read; approve again.", "error")
        return RedirectResponse(back_to(request, draft_id), status_code=303)
    try:
        with ctx.store.session() as session:
            draft = queue.get_draft(session, draft_id, lock=True)
            queue.approve(
                session,
                draft,
                actor=user,
                sender=ctx.settings.sender.email,
                seen=int(revision),
                now=ctx.clock(),
            )
    except queue.ChangedSinceOpened as exc:
        # The page again, with the new text: what the reviewer sees now is what they approve.
        return _draft_page(request, draft_id, user, changed=str(exc), status_code=409)
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back_to(request, draft_id), status_code=303)
    flash(request, f"Approved draft {draft_id}.")
    return RedirectResponse(next_after(request, draft_id), status_code=303)


@router.post("/drafts/{draft_id}/save")
def save(
    request: Request,
    draft_id: int,
    user: Reviewer,
    subject: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    back = back_to(request, draft_id)
    try:
        with ctx.store.session() as session:
            saved = edits.save_edit(
                session, draft_id, subject=subject, body=body, actor=user, now=ctx.clock()
            )
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back, status_code=303)
    if not saved.changed:
        flash(request, "Nothing changed; no new revision.")
    else:
        note = " Its approval was withdrawn; approve it again." if saved.withdrawn else ""
        flash(request, f"Saved revision {saved.revision}.{note}")
    return RedirectResponse(back, status_code=303)


@router.post("/drafts/{draft_id}/regenerate")
async def regenerate(
    request: Request, draft_id: int, user: Reviewer, instruction: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    back = back_to(request, draft_id)
    drafter = Drafter(ctx.settings, ctx.store, llm=make_llm(ctx.settings))
    try:
        revision = await drafter.regenerate(draft_id, instruction.strip(), actor=user)
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back, status_code=303)
    finally:
        await drafter.aclose()
    flash(request, f"Regenerated: revision {revision.number}. Earlier revisions are kept.")
    return RedirectResponse(back, status_code=303)
