"""What a draft is made of, what composing it gives, and the stored record of its model calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outreach.config import Settings, llm_api_key
from outreach.drafting.llm import CallRecord, LLMClient
from outreach.store.models import AICall, Draft


@dataclass(frozen=True)
class DraftSpec:
    """What to draft: the template and the context beyond the candidate."""

    template: str
    role: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""
    outcome: str | None = None
    conversation: Sequence[Mapping[str, Any]] = ()
    campaign_id: int | None = None
    step: int | None = None
    enrolment_id: int | None = None
    conversation_id: int | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    due_at: datetime | None = None
    quote: str = ""  # a reply's quote of the message it answers, after the rendered body
    instruction: str = ""  # the reviewer's words for the model, as when regenerating


def conversation_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    """Earlier messages as plain text for the prompt and the grounding check."""
    parts = []
    for message in conversation:
        who = message.get("from_name") or message.get("direction", "")
        parts.append(f"{who} ({message.get('date', '')}): {message.get('text', '')}".strip())
    return "\n\n".join(parts)


def context_of(spec: DraftSpec, grounds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The draft's stored context: what regenerating needs, and what the page shows."""
    context: dict[str, Any] = {
        "role": dict(spec.role),
        "notes": spec.notes,
        "outcome": spec.outcome,
        "conversation": [dict(m) for m in spec.conversation],
    }
    if spec.quote:
        context["quote"] = spec.quote
    if grounds is not None:
        context["grounds"] = dict(grounds)
    return context


def spec_of(draft: Draft) -> DraftSpec:
    """The spec a stored draft was made from."""
    context = draft.context or {}
    return DraftSpec(
        template=draft.template,
        role=context.get("role") or {},
        notes=context.get("notes") or "",
        outcome=context.get("outcome"),
        conversation=context.get("conversation") or (),
        campaign_id=draft.campaign_id,
        step=draft.step,
        enrolment_id=draft.enrolment_id,
        conversation_id=draft.conversation_id,
        in_reply_to=draft.in_reply_to,
        references=tuple(draft.references or ()),
        quote=context.get("quote") or "",
    )


def store_calls(session: Any, draft_id: int | None, calls: Sequence[CallRecord]) -> None:
    """Store model calls as AI call rows, one per call."""
    for call in calls:
        session.add(
            AICall(
                draft_id=draft_id,
                provider=call.provider,
                model=call.model,
                base_url=call.base_url,
                messages=call.messages,
                options=call.options,
                response_text=call.response_text,
                raw_response=call.raw_response,
                tokens_in=call.tokens_in,
                tokens_out=call.tokens_out,
                duration_ms=call.duration_ms,
                attempts=call.attempts,
                error=call.error,
            )
        )


@dataclass
class Composed:
    """A composed draft before it is stored."""

    subject: str
    body: str
    author: str
    kind: str
    ai_text: dict[str, str]
    flags: list[dict[str, Any]]
    calls: list[CallRecord]
    error: str = ""
    grounds: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchReport:
    drafted: list[int] = field(default_factory=list)  # draft ids
    skipped: list[str] = field(default_factory=list)  # "email: reason"
    failed: list[str] = field(default_factory=list)  # "email: error" (a draft still records it)
    stopped: str = ""  # why nothing was drafted: the token budget (see budget.py)


def make_llm(settings: Settings) -> LLMClient | None:
    """The model client from [llm], or None for the template-only drafter."""
    llm = settings.llm
    if llm.provider == "none":
        return None
    return LLMClient(
        model=llm.model,
        base_url=llm.base_url or None,
        api_key=llm_api_key(settings),
        concurrency=llm.concurrency,
        timeout=llm.timeout_seconds,
        max_retry_seconds=llm.max_retry_seconds,
    )
