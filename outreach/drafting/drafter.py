"""Build drafts: render the template, fill its AI slots in one model call, check the result.

Every draft enters the queue as ``pending``, revision 1, authored ``ai:<model>`` or
``template``, with its grounding flags. Every model call is stored, failures included. A
failure in one draft is recorded on that draft and a batch goes on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from outreach.candidates.records import by_email, profile, suppression_reasons
from outreach.config import Settings, llm_api_key
from outreach.drafting import grounding
from outreach.drafting.llm import CallRecord, LLMCallError, LLMClient
from outreach.drafting.prompts import slot_messages, slot_schema
from outreach.drafting.templates import EmailTemplate, Prepared, TemplateLibrary, candidate_context
from outreach.errors import InputError, LLMError, StateError, TemplateError
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import AICall, Candidate, CandidateTag, Draft, Revision
from outreach.store.values import CandidateStatus

Rendered = tuple[EmailTemplate, Prepared]  # a template and its render with the slots open

CLOSED = (queue.REJECTED, queue.CANCELLED)
FLUSH = 50  # drafts stored per transaction in a batch
RENDER_BATCH = 500  # templates rendered per trip to the worker thread
# Template code (slot instructions, max_words=40, conditions) is not a source of facts.
JINJA_TAG = re.compile(r"\{([{%#]).*?[}%#]\}", re.DOTALL)


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


@dataclass
class BatchReport:
    drafted: list[int] = field(default_factory=list)  # draft ids
    skipped: list[str] = field(default_factory=list)  # "email: reason"
    failed: list[str] = field(default_factory=list)  # "email: error" (a draft still records it)


def conversation_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    """Earlier messages as plain text for the prompt and the grounding check."""
    parts = []
    for message in conversation:
        who = message.get("from_name") or message.get("direction", "")
        parts.append(f"{who} ({message.get('date', '')}): {message.get('text', '')}".strip())
    return "\n\n".join(parts)


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


class Drafter:
    """Composes and stores drafts for one workspace."""

    def __init__(self, settings: Settings, store: Store, *, llm: LLMClient | None) -> None:
        self.settings = settings
        self.store = store
        self.llm = llm
        self.library = TemplateLibrary(settings.templates_dir)
        self.sender = {
            "name": settings.sender.name,
            "email": settings.sender.email,
            "signature": settings.sender.signature,
        }

    async def aclose(self) -> None:
        """Close the model client."""
        if self.llm is not None:
            await self.llm.aclose()

    def render(self, person: Mapping[str, Any], spec: DraftSpec) -> Rendered:
        """Render one draft's template with its slots open (blocking: see `compose`)."""
        context = {
            "candidate": candidate_context(person),
            "role": dict(spec.role),
            "sender": self.sender,
            "notes": spec.notes,
            "outcome": spec.outcome or "",
            "conversation": [dict(m) for m in spec.conversation],
        }
        return self.library.get(spec.template), self.library.prepare(spec.template, context)

    async def compose(
        self,
        person: Mapping[str, Any],
        spec: DraftSpec,
        *,
        instruction: str = "",
        ready: Rendered | None = None,
    ) -> Composed:
        """Render one draft for one candidate; model failures are recorded, not raised.

        The render runs in a worker thread (unless it is `ready`), so that a slow
        template never stalls the event loop, the web server's in `serve`; its limits
        (``template_limits``) end it in time.
        """
        if ready is None:
            ready = await asyncio.to_thread(self.render, person, spec)
        template, prepared = ready
        slots = prepared.slots
        conversation = conversation_text(spec.conversation)
        # The model sees the profile without our bookkeeping (ids, status, tags).
        data = {k: v for k, v in person.items() if k not in ("id", "status", "tags")}
        values: dict[str, str] | None = None
        calls: list[CallRecord] = []
        error = ""
        if slots and self.llm is not None:
            messages = slot_messages(
                template_name=template.name,
                template_source=template.source,
                slots=[(s.name, s.instruction, s.max_words) for s in slots],
                sender=self.sender,
                role=spec.role,
                candidate=data,
                notes=spec.notes,
                conversation=conversation,
                language=str(person.get("language") or "") or template.language,
                extra_instruction=instruction,
            )
            try:
                result = await self.llm.complete_json(
                    messages, slot_schema([s.name for s in slots]), name="slots"
                )
            except LLMCallError as exc:
                calls.append(exc.call)
                error = str(exc)
            else:
                calls.append(result.call)
                values = {name: str(value) for name, value in result.data.items()}
        if values is None and any(s.fallback is None for s in slots):
            # No model text and nothing to fall back on: leave a visible gap to fill.
            values = {s.name: s.fallback or f"[{s.name}: write this part]" for s in slots}
            error = error or "no model configured for slots without a fallback"
        rendered = self.library.fill(prepared, values)
        ai_text = dict(values or {}) if self.llm is not None and not error else {}
        flags = grounding.check(
            ai_text,
            slots,
            rendered.body,
            grounding.GroundingInput(
                candidate=data,
                role=spec.role,
                sender=self.sender,
                notes=spec.notes,
                conversation=conversation,
                template_source=JINJA_TAG.sub(" ", template.source),
            ),
            kind=template.kind,
            language=template.language,
        )
        flag_dicts = [asdict(flag) for flag in flags]
        if error:
            flag_dicts.insert(0, {"code": "ai_error", "message": error, "text": "", "slot": None})
        author = f"ai:{self.llm.model}" if ai_text and self.llm is not None else "template"
        return Composed(
            subject=rendered.subject,
            body=rendered.body,
            author=author,
            kind=template.kind,
            ai_text=ai_text,
            flags=flag_dicts,
            calls=calls,
            error=error,
        )

    def _store_drafts(self, items: Sequence[tuple[int, DraftSpec, Composed]]) -> list[int]:
        """Store composed drafts and their model calls in one transaction."""
        with self.store.session() as session:
            drafts = queue.create_drafts(
                session,
                [
                    queue.NewDraft(
                        candidate_id=candidate_id,
                        kind=composed.kind,
                        template=spec.template,
                        subject=composed.subject,
                        body=composed.body,
                        author=composed.author,
                        flags=composed.flags,
                        ai_text=composed.ai_text,
                        context=_context_of(spec),
                        campaign_id=spec.campaign_id,
                        step=spec.step,
                        enrolment_id=spec.enrolment_id,
                        conversation_id=spec.conversation_id,
                        in_reply_to=spec.in_reply_to,
                        references=spec.references,
                        error=composed.error,
                        due_at=spec.due_at,
                    )
                    for candidate_id, spec, composed in items
                ],
            )
            for draft, (_, _, composed) in zip(drafts, items, strict=True):
                store_calls(session, draft.id, composed.calls)
            return [draft.id for draft in drafts]

    async def draft_items(
        self,
        items: Sequence[tuple[Mapping[str, Any], DraftSpec]],
        *,
        progress: Callable[[], None] | None = None,
    ) -> BatchReport:
        """Compose (person, spec) pairs concurrently and store them in small batches.

        Finished drafts are written every FLUSH drafts, so a long model batch that stops
        midway keeps what it finished; a failure is recorded on its draft and the rest go on.
        """
        report = BatchReport()
        done: list[tuple[int, DraftSpec, Composed]] = []

        def flush() -> None:
            report.drafted.extend(self._store_drafts(done))
            done.clear()

        def render(batch: Sequence[tuple[Mapping[str, Any], DraftSpec]]) -> list[Any]:
            out: list[Any] = []
            for person, spec in batch:
                try:
                    out.append(self.render(person, spec))
                except (TemplateError, InputError) as exc:
                    out.append(exc)
            return out

        async def one(person: Mapping[str, Any], spec: DraftSpec, ready: Any) -> None:
            try:
                if isinstance(ready, Exception):
                    raise ready
                composed = await self.compose(person, spec, ready=ready)
            except (TemplateError, LLMError, InputError) as exc:
                report.failed.append(f"{person['email']}: {exc}")
            else:
                done.append((int(person["id"]), spec, composed))
                if composed.error:
                    report.failed.append(f"{person['email']}: {composed.error}")
                if len(done) >= FLUSH:
                    flush()
            if progress is not None:
                progress()

        # Renders go to the worker thread in batches (one trip each is cheaper); each batch's
        # drafts then go on concurrently while the next batch renders.
        tasks: list[asyncio.Future[None]] = []
        for start in range(0, len(items), RENDER_BATCH):
            batch = items[start : start + RENDER_BATCH]
            results = await asyncio.to_thread(render, batch)
            tasks += [
                asyncio.ensure_future(one(*item, r)) for item, r in zip(batch, results, strict=True)
            ]
        await asyncio.gather(*tasks)
        flush()
        return report

    async def draft_many(
        self,
        emails: Sequence[str],
        spec: DraftSpec,
        *,
        redo: bool = False,
        progress: Callable[[], None] | None = None,
    ) -> BatchReport:
        """Draft for many candidates concurrently; skip those who already have this template."""
        self.library.get(spec.template)  # a missing template fails the batch, not each draft
        skipped = BatchReport()
        people = self._eligible(emails, spec.template, redo, skipped)
        report = await self.draft_items([(p, spec) for p in people], progress=progress)
        report.skipped = skipped.skipped
        return report

    def _eligible(
        self, emails: Sequence[str], template: str, redo: bool, report: BatchReport
    ) -> list[dict[str, Any]]:
        salt = self.store.salt()
        people: list[dict[str, Any]] = []
        with self.store.session() as session:
            known = by_email(session, emails)
            suppressed = suppression_reasons(session, salt, emails)
            for email in emails:
                candidate = known.get(email)
                if candidate is None:
                    report.skipped.append(f"{email}: not a candidate; import them first")
                    continue
                reason = suppressed.get(email)
                if reason or candidate.status != CandidateStatus.ACTIVE:
                    report.skipped.append(f"{email}: {reason or candidate.status}")
                    continue
                existing = list(
                    session.scalars(
                        select(Draft).where(
                            Draft.candidate_id == candidate.id,
                            Draft.template == template,
                            Draft.status.not_in(CLOSED),
                        )
                    )
                )
                if existing and not redo:
                    report.skipped.append(f"{email}: already has draft {existing[0].id}")
                    continue
                for draft in existing:
                    queue.cancel(session, draft, actor="drafting", reason="redrafted (--redo)")
                tags = session.scalars(
                    select(CandidateTag.tag).where(CandidateTag.candidate_id == candidate.id)
                )
                people.append(profile(candidate, tags))
        return people

    async def regenerate(self, draft_id: int, instruction: str, *, actor: str) -> Revision:
        """Write a new revision with the model, following the reviewer's instruction."""
        if self.llm is None:
            raise InputError("regenerating needs a model; set [llm] provider in config.toml")
        with self.store.session() as session:
            draft = queue.get_draft(session, draft_id)
            if draft.status not in queue.OPEN:
                raise StateError(f"draft {draft_id} is {draft.status}; it cannot be regenerated")
            candidate = session.get(Candidate, draft.candidate_id)
            assert candidate is not None  # the foreign key guarantees it
            person = profile(candidate)
            spec = _spec_of(draft)
        composed = await self.compose(person, spec, instruction=instruction)
        with self.store.session() as session:
            store_calls(session, draft_id, composed.calls)
            if composed.error:
                raise LLMError(f"draft {draft_id}: the model failed ({composed.error}); try again")
            draft = queue.get_draft(session, draft_id)
            revision = queue.add_revision(
                session,
                draft,
                subject=composed.subject,
                body=composed.body,
                author=composed.author,
                actor=actor,
                ai_text=composed.ai_text,
                instruction=instruction,
                flags=composed.flags,
            )
            return revision


def _context_of(spec: DraftSpec) -> dict[str, Any]:
    return {
        "role": dict(spec.role),
        "notes": spec.notes,
        "outcome": spec.outcome,
        "conversation": [dict(m) for m in spec.conversation],
    }


def _spec_of(draft: Draft) -> DraftSpec:
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
