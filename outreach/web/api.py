"""The JSON API under /api: the queue's reads and actions, described by the OpenAPI schema.

Every route needs a session or an API token; every POST made with a session needs the CSRF
token in ``X-CSRF-Token``. Errors answer ``{"detail": "..."}`` with 401, 403, 404, 409 (the
draft's state does not allow it), 422 (bad input) or 502 (the model failed).

An approval names the revision its reviewer read: ``{"revision": N}``, the ``revision`` of
``GET /api/drafts/{id}``. When the draft has changed since, nothing is approved and the answer
is 409 with the current ``revision``, ``subject`` and ``body``. Bulk approval approves each
draft at the revision this reviewer last fetched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from outreach.campaigns import followups
from outreach.candidates.records import profile
from outreach.drafting.drafter import Drafter, make_llm
from outreach.errors import InputError, NotFound
from outreach.review import edits, opened, queue
from outreach.review import reads as review
from outreach.review.models import DraftDetail, DraftPage, Metrics
from outreach.store.models import Candidate, CandidateTag, Draft
from outreach.store.values import DraftKind
from outreach.web.auth import api_user, context

Status = Literal[
    "pending",
    "approved",
    "queued",
    "sending",
    "sent",
    "failed",
    "uncertain",
    "rejected",
    "cancelled",
]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Reviewer = Annotated[str, Depends(api_user)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "model": None}
    for code, text in {
        400: "Malformed request body",
        401: "Not logged in",
        403: "Missing or wrong CSRF token",
        404: "No such record",
        409: "Not allowed in the draft's current state",
        422: "Invalid input",
    }.items()
}


class _Text(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class RejectIn(_Text):
    reason: str = Field(min_length=1, max_length=2000)
    # A campaign step says what comes next (to rewrite instead, use /regenerate).
    then: Literal["skip", "stop"] | None = None


class RevisionIn(_Text):
    subject: str = Field(min_length=1, max_length=998)
    body: str = Field(max_length=100_000)


class RegenerateIn(_Text):
    instruction: str = Field(default="", max_length=2000)


class ApproveIn(BaseModel):
    revision: int = Field(
        ge=1,
        le=2**31 - 1,
        description="The revision you read (`revision` in GET /api/drafts/{id}). If the draft "
        "has changed since, nothing is approved and the answer is 409 with the new text.",
    )


class Conflict(BaseModel):
    detail: str
    revision: int | None = Field(
        default=None, description="The draft's current revision, when it changed since you read it"
    )
    subject: str | None = None
    body: str | None = None


class BulkApproveIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(max_length=500)


class DraftState(BaseModel):
    id: int
    status: str
    revision: int
    approved_by: str | None
    approved_at: datetime | None
    approved_revision: int | None
    approved_hash: str | None
    message_id: str | None


class BulkResult(BaseModel):
    approved: list[int]
    skipped: list[str]


class CandidatePage(BaseModel):
    items: list[dict[str, Any]]
    page: int
    per_page: int


def _state(draft: Draft) -> DraftState:
    return DraftState(
        id=draft.id,
        status=draft.status,
        revision=draft.current_revision,
        approved_by=draft.approved_by,
        approved_at=draft.approved_at,
        approved_revision=draft.approved_revision,
        approved_hash=draft.approved_hash,
        message_id=draft.message_id,
    )


router = APIRouter(prefix="/api", responses=ERRORS)


@router.get("/drafts", response_model=DraftPage, tags=["drafts"])
def list_drafts(
    request: Request,
    user: Reviewer,
    status: Status = "pending",
    campaign: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    kind: DraftKind | None = None,
    flagged: bool | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = review.PER_PAGE,
) -> DraftPage:
    """Drafts in a status, newest due first, one page at a time, with counts per status."""
    filters = review.Filters(status=status, campaign=campaign, kind=kind, flagged=flagged)
    with context(request).store.session() as session:
        counts = review.counts(session)
        listing = review.list_drafts(
            session, filters, page=page, per_page=per_page, status_counts=counts, viewer=user
        )
        listing.counts = counts
    return listing


@router.get("/drafts/{draft_id}", response_model=DraftDetail, tags=["drafts"])
def get_draft(request: Request, draft_id: Id, user: Reviewer) -> DraftDetail:
    """One draft with its profile, conversation, flags and diff; records that it was opened."""
    ctx = context(request)
    with ctx.store.session() as session:
        draft = queue.get_draft(session, draft_id)
        opened.mark_viewed(session, draft, user, now=ctx.clock())
        return review.draft_detail(session, draft)


@router.post(
    "/drafts/{draft_id}/approve",
    response_model=DraftState,
    tags=["drafts"],
    responses={
        409: {
            "model": Conflict,
            "description": "Not allowed in the draft's state, or it changed since you read it",
        }
    },
)
def approve(
    request: Request, draft_id: Id, payload: ApproveIn, user: Reviewer
) -> DraftState | JSONResponse:
    """Approve the revision you read (records who, when, revision and text hash)."""
    ctx = context(request)
    with ctx.store.session() as session:
        draft = queue.get_draft(session, draft_id, lock=True)
        try:
            queue.approve(
                session,
                draft,
                actor=user,
                sender=ctx.settings.sender.email,
                seen=payload.revision,
                now=ctx.clock(),
            )
        except queue.ChangedSinceOpened as exc:
            now = queue.current(session, draft)
            conflict = Conflict(
                detail=str(exc), revision=now.number, subject=now.subject, body=now.body
            )
            return JSONResponse(conflict.model_dump(), status_code=409)
        return _state(draft)


@router.post("/drafts/approve", response_model=BulkResult, tags=["drafts"])
def bulk_approve(request: Request, payload: BulkApproveIn, user: Reviewer) -> BulkResult:
    """Approve several drafts, each at the revision you last fetched; others are skipped."""
    ctx = context(request)
    sender = ctx.settings.sender.email
    with ctx.store.session() as session:
        approved, skipped = queue.approve_viewed(
            session, payload.ids, actor=user, sender=sender, now=ctx.clock()
        )
    return BulkResult(approved=approved, skipped=skipped)


@router.post("/drafts/{draft_id}/reject", response_model=DraftState, tags=["drafts"])
def reject(request: Request, draft_id: Id, payload: RejectIn, user: Reviewer) -> DraftState:
    """Reject the draft with a reason; a campaign step also says what next (`then`)."""
    ctx = context(request)
    with ctx.store.session() as session:
        draft = queue.get_draft(session, draft_id, lock=True)
        if followups.is_step(draft) and draft.status in queue.OPEN:
            if payload.then is None:
                raise InputError(f"draft {draft_id} is a campaign step: give then: skip or stop")
            followups.reject_step(
                session, draft, then=payload.then, reason=payload.reason, actor=user,
                settings=ctx.settings, now=ctx.clock(),
            )  # fmt: skip
        else:
            queue.reject(session, draft, actor=user, reason=payload.reason, now=ctx.clock())
        return _state(draft)


@router.post(
    "/drafts/{draft_id}/revisions", response_model=DraftState, status_code=201, tags=["drafts"]
)
def add_revision(request: Request, draft_id: Id, payload: RevisionIn, user: Reviewer) -> DraftState:
    """Save an edit as a new revision (none if it changes nothing); approved goes to pending."""
    ctx = context(request)
    with ctx.store.session() as session:
        edits.save_edit(
            session,
            draft_id,
            subject=payload.subject,
            body=payload.body,
            actor=user,
            now=ctx.clock(),
        )
        return _state(queue.get_draft(session, draft_id))


@router.post(
    "/drafts/{draft_id}/regenerate",
    response_model=DraftState,
    status_code=201,
    tags=["drafts"],
    responses={502: {"description": "The model failed"}},
)
async def regenerate(
    request: Request, draft_id: Id, payload: RegenerateIn, user: Reviewer
) -> DraftState:
    """Write a new revision with the model, following the instruction; earlier ones are kept."""
    ctx = context(request)
    drafter = Drafter(ctx.settings, ctx.store, llm=make_llm(ctx.settings))
    try:
        await drafter.regenerate(draft_id, payload.instruction.strip(), actor=user)
    finally:
        await drafter.aclose()
    with ctx.store.session() as session:
        return _state(queue.get_draft(session, draft_id))


@router.get("/metrics", response_model=Metrics, tags=["drafts"])
def metrics(request: Request, user: Reviewer) -> Metrics:
    """Review metrics: pending, approved today, approval rate, review time, edits per template."""
    ctx = context(request)
    with ctx.store.session() as session:
        return review.metrics(
            session, timezone=ctx.settings.sender.timezone, now=ctx.clock(), cache=ctx.edit_cache
        )


@router.get("/candidates", response_model=CandidatePage, tags=["candidates"])
def list_candidates(
    request: Request,
    user: Reviewer,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Candidates' profiles by email, one page at a time."""
    with context(request).store.session() as session:
        rows = session.scalars(
            select(Candidate)
            .order_by(Candidate.email)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        return {"items": [profile(c) for c in rows], "page": page, "per_page": per_page}


@router.get("/candidates/{candidate_id}", response_model=dict[str, Any], tags=["candidates"])
def get_candidate(request: Request, candidate_id: Id, user: Reviewer) -> dict[str, Any]:
    """One candidate's profile."""
    with context(request).store.session() as session:
        candidate = session.get(Candidate, candidate_id)
        if candidate is None:
            raise NotFound(f"no candidate {candidate_id}")
        tags = session.scalars(
            select(CandidateTag.tag).where(CandidateTag.candidate_id == candidate_id)
        )
        return profile(candidate, tags)
