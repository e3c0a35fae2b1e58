"""Conversation pages and their JSON: the replies the sync threaded, trimmed, with the rest
behind an expander, and a positive/negative mark. Thin views over
``outreach.conversations.threads``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from outreach.conversations import threads as core
from outreach.web.auth import api_user, context, flash, page_user, render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api")
Reviewer = Annotated[str, Depends(page_user)]
ApiReviewer = Annotated[str, Depends(api_user)]
STATUSES = (core.NEEDS_RESPONSE, core.OPEN, core.CLOSED)


def _status(value: str | None) -> str | None:
    return value if value in STATUSES else None


@router.get("/conversations", response_class=HTMLResponse)
def conversations_page(request: Request, user: Reviewer, status: str = "") -> Response:
    store = context(request).store
    chosen = _status(status)
    return render(
        request,
        "conversations.html",
        rows=core.list_conversations(store, status=chosen),
        counts=core.status_counts(store),
        status=chosen or "",
        statuses=STATUSES,
    )


@router.get("/conversations/{email}", response_class=HTMLResponse)
def conversation_page(request: Request, email: str, user: Reviewer) -> Response:
    data = core.show_conversation(context(request).store, email)
    return render(request, "conversation.html", c=data)


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
    flash(request, f"Marked the conversation {row['sentiment'] or 'unmarked'}.")
    return RedirectResponse(f"/conversations/{row['email']}", status_code=303)


@api.get("/conversations")
def api_list(
    request: Request, user: ApiReviewer, status: Annotated[str | None, Query()] = None
) -> list[dict[str, Any]]:
    """Conversations, newest first, with message counts."""
    return core.list_conversations(context(request).store, status=_status(status))


@api.get("/conversations/{email}")
def api_show(request: Request, email: str, user: ApiReviewer) -> dict[str, Any]:
    """A candidate's conversations with their messages (trimmed text and the elided rest)."""
    return core.show_conversation(context(request).store, email)
