"""Draft states, revisions and approvals: the only place a draft's status changes.

    pending ──approve──▶ approved ──(outbox)──▶ queued ▶ sending ▶ sent | failed | uncertain
       │  ▲                 │ a saved edit withdraws the approval → pending
       │  └─edit/regenerate─┘
       └─reject──▶ rejected            cancel: possible until the outbox claims it

An approval records the hash of everything the recipient will see (``approval.fingerprint``);
when the message can no longer be sent as approved, ``withdraw`` puts the draft back to pending
with the reason. Automation (the sync, suggested replies) cancels only drafts no person has
touched. A draft a person edited or approved is *held* instead: it stays, an approved one goes
back to pending, and the reason shows on it until a person approves it again.

Every change writes an audit event. CLI, web and API all call these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from outreach.errors import InputError, NotFound, StateError
from outreach.mail.messages import new_message_id
from outreach.review import approval
from outreach.review.audit import draft_event
from outreach.review.opened import mark_viewed, seen_revision
from outreach.store.bulk import bulk_insert
from outreach.store.models import Candidate, Draft, Event, Revision, utcnow
from outreach.store.values import CandidateStatus, DraftKind

PENDING, APPROVED, REJECTED, CANCELLED = "pending", "approved", "rejected", "cancelled"
QUEUED, SENDING, SENT, FAILED, UNCERTAIN = "queued", "sending", "sent", "failed", "uncertain"
# Once the outbox has a message, the draft mirrors its state; before that a person decides.
OPEN = (PENDING, APPROVED)
CANCELLABLE = (PENDING, APPROVED, QUEUED)
WITHDRAWN = "approval withdrawn: "  # how the reason of a withdrawal starts on the draft


class ChangedSinceOpened(StateError):
    """An approval named a revision the draft has moved past: the person has not read it."""

    def __init__(self, draft_id: int, seen: int, now: int) -> None:
        super().__init__(
            f"draft {draft_id}: this draft changed since you opened it (you read revision "
            f"{seen}; it is now revision {now}); read the new text before approving"
        )
        self.draft_id, self.seen, self.revision = draft_id, seen, now


@dataclass(frozen=True)
class NewDraft:
    candidate_id: int
    kind: str
    template: str
    subject: str
    body: str
    author: str  # ai:<model> | template
    flags: Sequence[dict[str, Any]] = ()
    ai_text: dict[str, str] | None = None
    context: dict[str, Any] | None = None
    campaign_id: int | None = None
    step: int | None = None
    enrolment_id: int | None = None
    conversation_id: int | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    error: str = ""
    due_at: datetime | None = None


def create_draft(
    session: Session, new: NewDraft, *, actor: str = "drafting", now: datetime | None = None
) -> Draft:
    """Put a new draft in the queue as pending, with revision 1."""
    return create_drafts(session, [new], actor=actor, now=now)[0]


def create_drafts(
    session: Session,
    news: Sequence[NewDraft],
    *,
    actor: str = "drafting",
    now: datetime | None = None,
) -> list[Draft]:
    """Put new drafts in the queue as pending, each with revision 1 (one INSERT per table)."""
    for new in news:
        if new.kind not in tuple(DraftKind):
            raise InputError(f"draft kind {new.kind!r}: use one of {', '.join(DraftKind)}")
    now = now or utcnow()
    drafts = [
        Draft(
            candidate_id=new.candidate_id,
            kind=new.kind,
            template=new.template,
            status=PENDING,
            current_revision=1,
            flags=list(new.flags),
            context=dict(new.context or {}),
            campaign_id=new.campaign_id,
            step=new.step,
            enrolment_id=new.enrolment_id,
            conversation_id=new.conversation_id,
            in_reply_to=new.in_reply_to,
            references=list(new.references),
            error=new.error,
            due_at=new.due_at or now,
            created_at=now,
            updated_at=now,
        )
        for new in news
    ]
    session.add_all(drafts)
    session.flush()  # the ids, for the revisions and the events
    for draft, new in zip(drafts, news, strict=True):
        session.add(
            Revision(
                draft_id=draft.id,
                number=1,
                subject=new.subject,
                body=new.body,
                author=new.author,
                ai_text=dict(new.ai_text or {}),
                created_at=now,
            )
        )
        draft_event(
            session, actor, "draft.created", draft, now, template=new.template, author=new.author
        )
    return drafts


def get_draft(session: Session, draft_id: int, *, lock: bool = False) -> Draft:
    """The draft with this id; NotFound when there is none."""
    query = select(Draft).where(Draft.id == draft_id)
    if lock:
        query = query.with_for_update()
    draft = session.scalar(query)
    if draft is None:
        raise NotFound(f"no draft {draft_id}; see `outreach queue list`")
    return draft


def current(session: Session, draft: Draft) -> Revision:
    """The draft's current revision."""
    revision = session.scalar(
        select(Revision).where(
            Revision.draft_id == draft.id, Revision.number == draft.current_revision
        )
    )
    if revision is None:  # pragma: no cover - the schema makes this impossible in practice
        raise NotFound(f"draft {draft.id} has no revision {draft.current_revision}")
    return revision


def revisions(session: Session, draft: Draft) -> list[Revision]:
    """All revisions of a draft, oldest first."""
    query = select(Revision).where(Revision.draft_id == draft.id).order_by(Revision.number)
    return list(session.scalars(query))


def add_revision(
    session: Session,
    draft: Draft,
    *,
    subject: str,
    body: str,
    author: str,
    actor: str,
    ai_text: dict[str, str] | None = None,
    instruction: str = "",
    flags: Sequence[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> Revision:
    """Save a new revision; an approved draft goes back to pending (its approval is withdrawn)."""
    now = now or utcnow()
    if draft.status not in OPEN:
        raise StateError(
            f"draft {draft.id} is {draft.status}; only pending or approved drafts change"
        )
    if not subject.strip():
        raise InputError(f"draft {draft.id}: the subject is empty; write one")
    if "\n" in subject or "\r" in subject:
        raise InputError(f"draft {draft.id}: the subject has a line break; keep it on one line")
    latest = session.scalar(select(func.max(Revision.number)).where(Revision.draft_id == draft.id))
    number = (latest or 0) + 1
    revision = Revision(
        draft_id=draft.id,
        number=number,
        subject=subject,
        body=body,
        author=author,
        ai_text=dict(ai_text or {}),
        instruction=instruction,
        created_at=now,
    )
    session.add(revision)
    withdrawn = draft.status == APPROVED
    draft.current_revision = number
    draft.updated_at = now
    if flags is not None:
        draft.flags = list(flags)
    if withdrawn:
        _withdraw(draft)
    draft_event(
        session, actor, "draft.revised", draft, now, revision=number, approval_withdrawn=withdrawn
    )
    if author == actor:  # a person who wrote the text has read it; a model's text is unread
        session.flush()
        mark_viewed(session, draft, actor, now=now)
    return revision


def _withdraw(draft: Draft) -> None:
    draft.status = PENDING
    draft.approved_by = draft.approved_at = draft.approved_revision = draft.approved_hash = None


def approve(
    session: Session,
    draft: Draft,
    *,
    actor: str,
    sender: str = "",
    seen: int | None = None,
    message_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Approve the current revision: who, when, which revision, and the hash of what is sent.

    ``seen`` is the revision the person read; when the draft has changed since, nothing is
    approved (ChangedSinceOpened). Every path a person approves through passes it; None is
    for automation and tests. The hash covers the recipient's name and address, the subject,
    the body and the thread, which is fixed on the draft here. So is the Message-ID, once:
    every later copy of the mail carries the same id. It is minted here, on the domain of
    ``sender`` (the From address), the one place outreach makes Message-IDs; ``message_id``
    gives a fixed one instead (mail imported with its id, tests).
    """
    now = now or utcnow()
    if draft.status != PENDING:
        raise StateError(f"draft {draft.id} is {draft.status}; only pending drafts can be approved")
    if seen is not None and seen != draft.current_revision:
        raise ChangedSinceOpened(draft.id, seen, draft.current_revision)
    candidate = session.get(Candidate, draft.candidate_id)
    if candidate is not None and candidate.status != CandidateStatus.ACTIVE:
        raise StateError(
            f"draft {draft.id}: {candidate.email} is {candidate.status}; it cannot be approved"
        )
    revision = current(session, draft)
    if not revision.body.strip():
        raise StateError(f"draft {draft.id}: the body is empty; write it before approving")
    mark_viewed(session, draft, actor, now=now)
    draft.in_reply_to, draft.references = approval.thread(
        session,
        kind=draft.kind,
        enrolment_id=draft.enrolment_id,
        in_reply_to=draft.in_reply_to,
        references=draft.references,
    )
    draft.status = APPROVED
    draft.hold_reason = ""  # a person decided with the news in front of them
    draft.approved_by = actor
    draft.approved_at = now
    draft.approved_revision = revision.number
    draft.approved_hash = approval.fingerprint(approval.visible_of(session, draft))
    if not draft.message_id:
        if message_id is None and not sender:
            raise StateError(f"draft {draft.id}: no sender address to make its Message-ID on")
        draft.message_id = message_id or new_message_id(sender)
    if draft.error.startswith(WITHDRAWN):
        draft.error = ""  # approved again: the withdrawal it reported is over
    draft.updated_at = now
    draft_event(
        session,
        actor,
        "draft.approved",
        draft,
        now,
        revision=revision.number,
        hash=draft.approved_hash,
    )


def reject(
    session: Session, draft: Draft, *, actor: str, reason: str, now: datetime | None = None
) -> None:
    """Reject a pending or approved draft, with the reviewer's reason."""
    if draft.status not in OPEN:
        raise StateError(f"draft {draft.id} is {draft.status}; only pending drafts can be rejected")
    if not reason.strip():
        raise InputError("give a reason for rejecting (--reason)")
    draft.status = REJECTED
    draft.reject_reason = reason.strip()
    draft.updated_at = now = now or utcnow()
    draft_event(session, actor, "draft.rejected", draft, now, reason=draft.reject_reason)


def withdraw(
    session: Session, draft: Draft, *, actor: str, reason: str, now: datetime | None = None
) -> None:
    """Take back the approval of a draft that can no longer be sent as approved (to pending).

    The reason stays on the draft for the reviewer; nothing is sent until they approve again.
    """
    if draft.status not in (APPROVED, QUEUED):
        raise StateError(f"draft {draft.id} is {draft.status}; only approved drafts are withdrawn")
    _withdraw(draft)
    draft.error = WITHDRAWN + reason
    draft.updated_at = now = now or utcnow()
    draft_event(session, actor, "draft.approval_withdrawn", draft, now, reason=reason)


def cancel(
    session: Session, draft: Draft, *, actor: str, reason: str, now: datetime | None = None
) -> bool:
    """Cancel a draft that has not started sending; returns whether it was cancelled."""
    if draft.status not in CANCELLABLE:
        return False
    draft.status = CANCELLED
    draft.reject_reason = reason
    draft.updated_at = now = now or utcnow()
    draft_event(session, actor, "draft.cancelled", draft, now, reason=reason)
    return True


def touched_at(session: Session, draft: Draft) -> datetime | None:
    """When a person last approved or edited the draft; None when no person has."""
    edited = session.scalar(
        select(func.max(Revision.created_at)).where(
            Revision.draft_id == draft.id,
            Revision.author != "template",
            Revision.author.not_like("ai:%"),
        )
    )
    times = [t for t in (draft.approved_at, edited) if t is not None]
    return max(times) if times else None


def hold(
    session: Session, draft: Draft, *, reason: str, actor: str, now: datetime | None = None
) -> bool:
    """Hold a draft a person worked on: the reason shows, an approval is withdrawn.

    The draft stays as it is otherwise; a person reads the news and approves it again (or
    edits or rejects it). A queued draft must be out of the outbox first
    (``sending.hold``). Returns whether anything changed.
    """
    if draft.status not in (PENDING, APPROVED, QUEUED):
        return False
    if draft.status == PENDING and draft.hold_reason == reason:
        return False
    was = draft.status
    if was != PENDING:
        _withdraw(draft)
    draft.hold_reason = reason
    draft.updated_at = now = now or utcnow()
    draft_event(session, actor, "draft.held", draft, now, reason=reason, was=was)
    return True


def set_status(
    session: Session,
    draft: Draft,
    status: str,
    *,
    actor: str,
    now: datetime | None = None,
    **details: Any,
) -> None:
    """Mirror the outbox's state on the draft (queued, sending, sent, failed, uncertain)."""
    if status not in (QUEUED, SENDING, SENT, FAILED, UNCERTAIN, APPROVED):
        raise StateError(f"draft {draft.id}: {status!r} is not an outbox state")
    draft.status = status
    draft.updated_at = now = now or utcnow()
    draft_event(session, actor, f"draft.{status}", draft, now, **details)


def set_status_many(
    session: Session,
    changes: Sequence[tuple[int, int, str, dict[str, Any]]],
    *,
    actor: str,
    now: datetime,
) -> None:
    """The batch form of ``set_status``: (draft id, candidate id, state, event details) each."""
    by_state: dict[str, list[int]] = {}
    for draft_id, _, state, _ in changes:
        if state not in (QUEUED, SENDING, SENT, FAILED, UNCERTAIN, APPROVED):
            raise StateError(f"draft {draft_id}: {state!r} is not an outbox state")
        by_state.setdefault(state, []).append(draft_id)
    for state, draft_ids in by_state.items():
        session.execute(
            update(Draft)
            .where(Draft.id.in_(draft_ids))
            .values(status=state, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    if changes:  # the sender's hot path: one driver-level insert of the whole batch
        draft_ids, candidate_ids, states, details = zip(*changes, strict=True)
        bulk_insert(
            session,
            Event.metadata.tables["events"],
            {
                "subject_id": draft_ids,
                "candidate_id": candidate_ids,
                "action": [f"draft.{state}" for state in states],
                "details": details,
            },
            {"actor": actor, "subject_type": "draft", "at": now},
        )


def approve_viewed(
    session: Session,
    draft_ids: Sequence[int],
    *,
    actor: str,
    sender: str,
    now: datetime | None = None,
) -> tuple[list[int], list[str]]:
    """Bulk approve: approve each pending draft at the revision this reviewer opened.

    A draft they never opened, or that changed since they did, is left alone. Returns the
    approved ids and one line for each draft left alone and why.
    """
    approved: list[int] = []
    skipped: list[str] = []
    for draft_id in dict.fromkeys(draft_ids):
        draft = session.scalar(select(Draft).where(Draft.id == draft_id).with_for_update())
        seen = seen_revision(session, draft_id, actor)
        if draft is None:
            skipped.append(f"draft {draft_id}: no such draft")
        elif seen is None:
            skipped.append(f"draft {draft_id}: not opened yet; open it before approving")
        else:
            try:
                approve(session, draft, actor=actor, sender=sender, seen=seen, now=now)
            except StateError as exc:
                skipped.append(str(exc))
            else:
                approved.append(draft_id)
    return approved, skipped
