"""Build drafts: render the template, fill its AI slots in one model call, check the result.

Every draft enters the queue as ``pending``, revision 1, authored ``ai:<model>`` or
``template``, with its grounding flags and a record of what it was grounded in. The template
is the variant in the candidate's language when there is one (``intro`` → ``intro_sv``).
Every model call is stored, failures included. A failure in one draft is recorded on that
draft and a batch goes on; a batch whose token estimate does not fit the budget (``budget``)
is refused before its first call.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from outreach.candidates import privacy
from outreach.candidates.records import by_email, profile, suppression_reasons
from outreach.config import Settings
from outreach.drafting import budget, flagging, grounding, verify
from outreach.drafting.fit import role_fit
from outreach.drafting.inputs import language_variant, template_family
from outreach.drafting.llm import CallRecord, LLMCallError, LLMClient
from outreach.drafting.notes import Notes
from outreach.drafting.notes import parse as parse_notes
from outreach.drafting.prompts import Prompt, language_of, person_facts, slot_prompt, slot_schema
from outreach.drafting.spec import (
    BatchReport,
    Composed,
    DraftSpec,
    context_of,
    conversation_text,
    make_llm,
    spec_of,
    store_calls,
)
from outreach.drafting.templates import EmailTemplate, Prepared, TemplateLibrary, candidate_context
from outreach.errors import InputError, LLMError, StateError, TemplateError
from outreach.mail.quoting import with_quote
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Candidate, CandidateTag, Draft, Revision
from outreach.store.values import CandidateStatus

__all__ = [
    "BatchReport",
    "Composed",
    "DraftSpec",
    "Drafter",
    "JINJA_TAG",
    "conversation_text",
    "make_llm",
    "store_calls",
]

Rendered = tuple[EmailTemplate, Prepared]  # a template and its render with the slots open

CLOSED = (queue.REJECTED, queue.CANCELLED)
FLUSH = 50  # drafts stored per transaction in a batch
RENDER_BATCH = 500  # templates rendered per trip to the worker thread
# Template code (slot instructions, max_words=40, conditions) is not a source of facts.
JINJA_TAG = re.compile(r"\{([{%#]).*?[}%#]\}", re.DOTALL)


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
        self.company = settings.company.model_dump()

    async def aclose(self) -> None:
        """Close the model client."""
        if self.llm is not None:
            await self.llm.aclose()

    def for_language(self, person: Mapping[str, Any], spec: DraftSpec) -> DraftSpec:
        """The spec with the template's variant in the candidate's language, if there is one."""
        name = language_variant(self.library, spec.template, str(person.get("language") or ""))
        return spec if name == spec.template else replace(spec, template=name)

    def _notes(self, person: Mapping[str, Any], spec: DraftSpec, language: str) -> Notes | None:
        if not spec.notes.strip():
            return None
        return parse_notes(spec.notes, str(candidate_context(person)["first_name"]), language)

    def render(self, person: Mapping[str, Any], spec: DraftSpec) -> Rendered:
        """Render one draft's template with its slots open (blocking: see `compose`)."""
        template = self.library.get(spec.template)
        notes = self._notes(person, spec, language_of(template.language, person))
        context = {
            "candidate": candidate_context(person),
            "role": dict(spec.role),
            "sender": self.sender,
            "company": self.company,
            "notes": notes.text if notes else "",
            "interview": notes.as_context() if notes else {},
            "fit": role_fit(person, spec.role),
            "outcome": spec.outcome or "",
            "conversation": [dict(m) for m in spec.conversation],
            "privacy": privacy.context(self.settings, person, template.language),
        }
        return template, self.library.prepare(spec.template, context)

    def prompt(
        self, person: Mapping[str, Any], spec: DraftSpec, ready: Rendered, instruction: str = ""
    ) -> Prompt:
        """The slot prompt for one rendered draft."""
        template, prepared = ready
        return slot_prompt(
            kind=template.kind,
            slots=[(s.name, s.instruction, s.max_words) for s in prepared.slots],
            sender=self.sender,
            role=spec.role,
            company=self.company,
            person=candidate_context(person),
            notes=spec.notes,
            conversation=conversation_text(spec.conversation),
            language=language_of(template.language, person),
            extra_instruction=instruction,
        )

    def _estimate(self, person: Mapping[str, Any], spec: DraftSpec, ready: Rendered) -> int:
        if self.llm is None or not ready[1].slots:
            return 0
        calls = 2 if self.settings.llm.verify else 1
        return budget.estimate(self.prompt(person, spec, ready).messages, self.llm.max_tokens,
                               calls=calls)  # fmt: skip

    def _check_budget(self, needed: int, drafts: int) -> None:
        llm = self.settings.llm
        if self.llm is None or not (llm.max_tokens_per_day or llm.max_tokens_per_run):
            return
        with self.store.session() as session:
            used = budget.used_on(session, datetime.now(UTC).date())
        budget.Budget(llm.max_tokens_per_day, llm.max_tokens_per_run, used).check(needed, drafts)

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
        person_ctx = candidate_context(person)  # built once, shared by every step below
        language = language_of(template.language, person)
        prompt = None
        if slots and self.llm is not None:
            prompt = self.prompt(person_ctx, spec, ready, instruction or spec.instruction)
        # The grounding check reads the profile without our bookkeeping (ids, status, tags).
        data = {k: v for k, v in person.items() if k not in ("id", "status", "tags")}
        values: dict[str, str] | None = None
        calls: list[CallRecord] = []
        error = ""
        if prompt is not None and self.llm is not None:
            try:
                result = await self.llm.complete_json(
                    prompt.messages, slot_schema([s.name for s in slots]), name="slots"
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
        notes = self._notes(person_ctx, spec, language)
        flags = grounding.check(
            ai_text,
            slots,
            rendered.body,
            grounding.GroundingInput(
                candidate=data,
                role=spec.role,
                sender=self.sender,
                notes=notes.text if notes else "",
                conversation=conversation_text(spec.conversation),
                template_source=JINJA_TAG.sub(" ", template.source),
                company=self.company,
                prompt=prompt.instructions if prompt else "",
            ),
            kind=template.kind,
            language=template.language,
            slot_languages={s.name: language for s in slots} if language else None,
        )
        if ai_text and prompt is not None and self.llm is not None and self.settings.llm.verify:
            found, verify_calls = await verify.unsupported(self.llm, prompt, ai_text)
            flags += found
            calls += verify_calls
        whole = flagging.draft_flags(person_ctx, template.language, rendered)
        has = {(f.code, f.slot) for f in flags}
        flags = [f for f in whole if (f.code, f.slot) not in has] + flags
        flag_dicts = flagging.placed(flags, rendered)
        if template.kind == "outreach":  # a first contact: is an Art. 14 notice due and there?
            due = privacy.context(self.settings, person, template.language)["notice"]
            missing = privacy.missing_notice(self.settings.privacy, person, rendered.body, due)
            flag_dicts += [{**missing, "label": flagging.label(privacy.FLAG)}] if missing else []
        if error:
            flag_dicts.insert(0, {"code": "ai_error", "label": flagging.label("ai_error"),
                                  "message": error, "text": "", "slot": None})  # fmt: skip
        author = f"ai:{self.llm.model}" if ai_text and self.llm is not None else "template"
        return Composed(
            subject=rendered.subject,
            body=with_quote(rendered.body, spec.quote),
            author=author,
            kind=template.kind,
            ai_text=ai_text,
            flags=flag_dicts,
            calls=calls,
            error=error,
            grounds=flagging.grounds(
                role=spec.role,
                company=self.company,
                fields=prompt.fields if prompt else tuple(person_facts(person_ctx, template.kind)),
                notes=notes,
                rendered=rendered,
                ai_text=ai_text,
                language=language,
            ),
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
                        context=context_of(spec, composed.grounds),
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
        With a token budget, the whole batch is rendered and estimated first, and refused
        whole before any call if it does not fit (``report.stopped`` says why).
        """
        items = [(person, self.for_language(person, spec)) for person, spec in items]
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

        limits = self.settings.llm.max_tokens_per_day or self.settings.llm.max_tokens_per_run
        everything: list[Any] | None = None
        if self.llm is not None and limits:
            everything = await asyncio.to_thread(render, items)
            needed = sum(
                self._estimate(p, s, r)
                for (p, s), r in zip(items, everything, strict=True)
                if not isinstance(r, Exception)
            )
            try:
                self._check_budget(needed, len(items))
            except budget.TokenBudgetReached as exc:  # a report, so background loops go on
                report.stopped = str(exc)
                return report
        # Renders go to the worker thread in batches (one trip each is cheaper); each batch's
        # drafts then go on concurrently while the next batch renders.
        tasks: list[asyncio.Future[None]] = []
        for start in range(0, len(items), RENDER_BATCH):
            batch = items[start : start + RENDER_BATCH]
            if everything is not None:
                results = everything[start : start + RENDER_BATCH]
            else:
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
        names = template_family(self.library, template)
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
                            Draft.template.in_(names),
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
            spec = spec_of(draft)
        ready = await asyncio.to_thread(self.render, person, spec)
        self._check_budget(self._estimate(person, spec, ready), 1)
        composed = await self.compose(person, spec, instruction=instruction, ready=ready)
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
            draft.context = context_of(spec, composed.grounds)
            return revision
