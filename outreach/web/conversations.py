"""Conversation pages and their JSON: the whole thread both ways, answered from the page, and
who is waiting on us. Thin views over ``outreach.conversations`` (reads, replies, waiting).

The reply box posts the text the person wrote or edited with the revision they saw; pressing
Send approves exactly that (``replies.send_reply``) and puts it in the outbox. "Draft" asks
the model (or the `reply` template) for a text to edit, with an optional instruction.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from outreach.conversations import reads, replies
from outreach.conversations import threads as core
from outreach.conversations import waiting as waits
from outreach.drafting.drafter import Drafter, make_llm
from outreach.errors import OutreachError
from outreach.review import queue
from outreach.store.models import utcnow
from outreach.web.auth import api_user, context, flash, page_user, render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api")
Reviewer = Annotated[str, Depends(page_user)]
ApiReviewer = Annotated[str, Depends(api_user)]
STATUSES = (reads.NEEDS_RESPONSE, reads.OPEN, reads.CLOSED)


def _status(value: str | None) -> str | None:
    return value if value in STATUSES else None


def _page(email: str, anchor: str = "") -> str:
    return f"/conversations/{quote(email, safe='@')}{anchor}"


def _number(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


@router.get("/conversations", response_class=HTMLResponse)
def conversations_page(request: Request, user: Reviewer, status: str = "") -> Response:
    store = context(request).store
    chosen = _status(status)
    return render(
        request,
        "conversations.html",
        rows=reads.list_conversations(store, status=chosen),
        counts=reads.status_counts(store),
        status=chosen or "",
        statuses=STATUSES,
    )


@router.get("/waiting", response_class=HTMLResponse)
def waiting_page(request: Request, user: Reviewer) -> Response:
    ctx = context(request)
    rows = waits.waiting(ctx.store, ctx.settings, now=utcnow())
    return render(
        request, "waiting.html", rows=rows, age=waits.age, limits=ctx.settings.conversations
    )


@router.get("/conversations/{email}", response_class=HTMLResponse)
def conversation_page(request: Request, email: str, user: Reviewer) -> Response:
    ctx = context(request)
    data = reads.show_conversation(ctx.store, email)
    boxes = {
        t.id: replies.reply_box(
            ctx.store, ctx.settings, t, data.email, viewer=user, now=ctx.clock()
        )
        for t in data.conversations
    }
    return render(
        request,
        "conversation.html",
        c=data,
        boxes=boxes,
        llm=ctx.settings.llm.provider != "none",
        today=utcnow().date().isoformat(),
    )


@router.post("/conversations/{email}/reply")
async def reply(
    request: Request,
    email: str,
    user: Reviewer,
    conversation_id: Annotated[str, Form()] = "",
    message_id: Annotated[str, Form()] = "",
    draft_id: Annotated[str, Form()] = "",
    revision: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    instruction: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "send",
) -> Response:
    ctx = context(request)
    conversation = _number(conversation_id)
    try:
        if action == "draft":
            drafter = Drafter(ctx.settings, ctx.store, llm=make_llm(ctx.settings))
            try:
                await replies.draft_reply(
                    ctx.store, ctx.settings, drafter, email,
                    instruction=instruction.strip(), conversation_id=conversation,
                )  # fmt: skip
            finally:
                await drafter.aclose()
            flash(request, "Drafted a reply below: read it, edit it, and send it when it is right.")
        else:
            queued = replies.send_reply(
                ctx.store, ctx.settings, email, text, actor=user, now=utcnow(),
                conversation_id=conversation, message_id=_number(message_id),
                draft_id=_number(draft_id), seen=_number(revision),
            )  # fmt: skip
            flash(request, f"Your reply to {queued.to} is approved and in the outbox.")
    except queue.ChangedSinceOpened as exc:
        flash(request, f"Not sent: {exc}", "error")
    except OutreachError as exc:
        flash(request, f"Not sent: {exc}" if action != "draft" else str(exc), "error")
    return RedirectResponse(_page(email, f"#reply-{conversation or ''}"), status_code=303)


@router.post("/conversations/{email}/no-answer")
def no_answer(
    request: Request,
    email: str,
    user: Reviewer,
    reason: Annotated[str, Form()] = "",
    conversation_id: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    try:
        core.no_answer_needed(
            ctx.store, email, reason, actor=user, now=utcnow(),
            conversation_id=_number(conversation_id),
        )  # fmt: skip
    except OutreachError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, "Marked: no answer needed. It waits again when they write.")
    return RedirectResponse(_page(email), status_code=303)


@router.post("/conversations/{email}/interviewed")
def interviewed(
    request: Request, email: str, user: Reviewer, on: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    try:
        core.mark_interviewed(ctx.store, email, core.interview_day(on), actor=user)
    except OutreachError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"Interview on {on}: feedback is owed." if on else "Interview date cleared.")
    return RedirectResponse(_page(email), status_code=303)


@router.post("/conversations/{email}/mark")
def mark(
    request: Request,
    email: str,
    user: Reviewer,
    sentiment: Annotated[str, Form()],
    conversation_id: Annotated[int | None, Form()] = None,
) -> Response:
    row = core.mark(
        context(request).store, email, sentiment, actor=user, conversation_id=conversation_id
    )
    flash(request, f"Marked the conversation {row.sentiment or 'unmarked'}.")
    return RedirectResponse(_page(row.email), status_code=303)


@api.get("/conversations")
def api_list(
    request: Request, user: ApiReviewer, status: Annotated[str | None, Query()] = None
) -> list[reads.Summary]:
    """Conversations, newest first, with message counts each way."""
    return reads.list_conversations(context(request).store, status=_status(status))


@api.get("/waiting")
def api_waiting(request: Request, user: ApiReviewer) -> list[waits.Waiting]:
    """Candidates waiting on us (for an answer, or feedback after an interview), oldest first."""
    ctx = context(request)
    return waits.waiting(ctx.store, ctx.settings, now=utcnow())


@api.get("/conversations/{email}")
def api_show(request: Request, email: str, user: ApiReviewer) -> reads.CandidateThreads:
    """A candidate's conversations with every message both ways (trimmed text, the rest)."""
    return reads.show_conversation(context(request).store, email)


class ReplyIn(BaseModel):
    """A reply the caller wrote: approved by them and queued when posted."""

    text: str = Field(min_length=1)
    conversation_id: int | None = None
    message_id: int | None = None  # the message answered (default: their latest)
    draft_id: int | None = None
    revision: int | None = None  # with draft_id: the revision the caller read


@api.post("/conversations/{email}/reply")
def api_reply(request: Request, email: str, payload: ReplyIn, user: ApiReviewer) -> replies.Queued:
    """Approve the reply the caller wrote and put it in the outbox."""
    ctx = context(request)
    return replies.send_reply(
        ctx.store, ctx.settings, email, payload.text, actor=user, now=utcnow(),
        conversation_id=payload.conversation_id, message_id=payload.message_id,
        draft_id=payload.draft_id, seen=payload.revision,
    )  # fmt: skip
