"""The one door into the outbox: approved drafts frozen as exact, checked bytes (``queued``).

``freeze`` (``enqueue`` for one draft) refuses a draft whose approval does not cover what would
be sent (``outreach.review.approval``), builds the bytes, parses them back, and keeps them with
their own hash; a draft refused here goes back to pending with the reason. Each message frozen
is put on its conversation in the same transaction (``outreach.sending.recorded``). From
``queued`` on, the row follows the state machine of ``outreach.sending.outbox``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, select, update
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.errors import NotApproved, NotFound, OutreachError, SendError, StateError
from outreach.mail.messages import Outgoing, digest, message_bytes
from outreach.review import approval, queue
from outreach.sending import recorded
from outreach.sending.outbox import CANCELLED, QUEUED
from outreach.store.models import Candidate, Draft, OutboxEntry, Revision


@dataclass(frozen=True)
class Frozen:
    """The outbox row of an approved draft whose message was built and checked."""

    draft_id: int
    candidate_id: int
    entry_id: int | None  # a cancelled row of the same draft, reused
    values: dict[str, Any]
    seen: approval.Visible  # what the recipient sees, for the conversation (``recorded``)


def _rows(session: Session, draft_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """Each draft with its current revision, candidate and outbox row: one query."""
    query = (
        select(
            Draft.id, Draft.kind, Draft.status, Draft.candidate_id, Draft.enrolment_id,
            Draft.approved_at, Draft.approved_by, Draft.approved_hash, Draft.approved_revision,
            Draft.current_revision, Draft.message_id, Draft.in_reply_to, Draft.references,
            Draft.due_at, Revision.subject, Revision.body, Candidate.name, Candidate.email,
            OutboxEntry.id.label("entry_id"), OutboxEntry.state.label("entry_state"),
        )
        .join(Candidate, Candidate.id == Draft.candidate_id)
        .outerjoin(
            Revision,
            and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision),
        )
        .outerjoin(OutboxEntry, OutboxEntry.draft_id == Draft.id)
        .where(Draft.id.in_(list(draft_ids)))
    )  # fmt: skip
    rows: list[Row[Any]] = list(session.execute(query))
    return {row.id: row for row in rows}


def _build(
    session: Session, row: Row[Any], settings: Settings, now: datetime
) -> tuple[bytes, approval.Visible]:
    """The checked bytes of one approved draft; StateError or SendError says why not."""
    if row.status != queue.APPROVED:
        raise StateError(f"draft {row.id} is {row.status}; only approved drafts enter the outbox")
    if row.entry_state is not None and row.entry_state != CANCELLED:
        raise StateError(f"draft {row.id} is already in the outbox (entry {row.entry_id})")
    in_reply_to, references = approval.thread(
        session,
        kind=row.kind,
        enrolment_id=row.enrolment_id,
        in_reply_to=row.in_reply_to,
        references=row.references,
    )
    seen = None
    if row.subject is not None:
        seen = approval.visible(
            kind=row.kind, to_name=row.name, to_email=row.email, subject=row.subject,
            body=row.body, in_reply_to=in_reply_to, references=references,
        )  # fmt: skip
    reason = approval.approval_problem(
        draft_id=row.id,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        approved_hash=row.approved_hash,
        approved_revision=row.approved_revision,
        current_revision=row.current_revision,
        fingerprint=approval.fingerprint(seen) if seen is not None else None,
        message_id=row.message_id,
    )
    if reason is not None or seen is None:
        raise NotApproved(
            f"{reason}; check it and approve it again (`outreach queue show {row.id}`)"
        )
    raw = message_bytes(
        Outgoing(
            from_name=settings.sender.name,
            from_email=settings.sender.email,
            to_name=seen.to_name,
            to_email=seen.to_email,
            subject=seen.subject,
            body_text=seen.body,
            message_id=row.message_id,
            date=now,
            in_reply_to=seen.in_reply_to,
            references=seen.references,
            html=settings.sender.html,
        )
    )
    return raw, seen


def build_all(
    session: Session, draft_ids: Sequence[int], settings: Settings, *, now: datetime
) -> tuple[list[Frozen], list[tuple[int, OutreachError]]]:
    """Build and check the message of each approved draft, in order; and why the others fail."""
    rows = _rows(session, draft_ids)
    built: list[Frozen] = []
    refused: list[tuple[int, OutreachError]] = []
    for draft_id in dict.fromkeys(draft_ids):
        row = rows.get(draft_id)
        try:
            if row is None:
                raise NotFound(f"no draft {draft_id}; see `outreach queue list`")
            raw, seen = _build(session, row, settings, now)
        except OutreachError as exc:
            refused.append((draft_id, exc))
            continue
        held = row.due_at is not None and row.due_at > now
        values = {
            "draft_id": row.id, "candidate_id": row.candidate_id,
            "mailbox": settings.sender.email, "message_id": row.message_id,
            "to_email": row.email, "raw": raw, "raw_hash": digest(raw),
            "approved_hash": row.approved_hash, "kind": row.kind, "state": QUEUED,
            "attempts": 0, "lease_until": None, "not_before": row.due_at if held else None,
            "wait_reason": "due later" if held else "", "last_reply": "", "updated_at": now,
        }  # fmt: skip
        built.append(Frozen(row.id, row.candidate_id, row.entry_id, values, seen))
    return built, refused


def freeze(
    session: Session, draft_ids: Sequence[int], settings: Settings, *, actor: str, now: datetime
) -> tuple[dict[int, int], list[tuple[int, OutreachError]]]:
    """Freeze approved drafts' exact, checked bytes in the outbox as ``queued``.

    The one door into the outbox (``enqueue`` is the one-draft form). A draft whose approval
    no longer covers what would be sent, or whose message cannot be built or does not read
    back as approved, goes back to pending with the reason (``queue.withdraw``). Returns the
    outbox row of each frozen draft, and each refused draft with why.
    """
    built, refused = build_all(session, draft_ids, settings, now=now)
    for draft_id, exc in refused:
        draft = session.get(Draft, draft_id)
        if draft is not None and draft.status == queue.APPROVED and _withdraws(exc):
            queue.withdraw(session, draft, actor=actor, reason=str(exc))
    entries: dict[int, int] = {}
    fresh = [item.values | {"created_at": now} for item in built if item.entry_id is None]
    if fresh:
        insert_rows = insert(OutboxEntry).returning(OutboxEntry.draft_id, OutboxEntry.id)
        entries.update({int(d): int(e) for d, e in session.execute(insert_rows, fresh)})
    reused = [item.values | {"id": item.entry_id} for item in built if item.entry_id is not None]
    if reused:
        session.execute(update(OutboxEntry), reused)
        entries.update({int(v["draft_id"]): int(v["id"]) for v in reused})
    queue.set_status_many(
        session,
        [(item.draft_id, item.candidate_id, QUEUED, {"outbox": entries[item.draft_id]})
         for item in built],
        actor=actor,
        now=now,
    )  # fmt: skip
    mine = [
        recorded.Outgoing.of(entries[i.draft_id], i.candidate_id, i.values, i.seen) for i in built
    ]
    recorded.record(session, mine, settings, actor=actor, now=now)
    return entries, refused


def _withdraws(exc: OutreachError) -> bool:
    """Whether a refusal means the approval no longer holds (not: already queued, or gone)."""
    return isinstance(exc, NotApproved | SendError)


def enqueue(
    session: Session, draft: Draft, settings: Settings, *, actor: str, now: datetime
) -> OutboxEntry:
    """Freeze one approved draft into the outbox; the reason it cannot be is raised.

    CLI, web and API call this (the sender freezes in bulk with ``freeze``).
    """
    entries, refused = freeze(session, [draft.id], settings, actor=actor, now=now)
    if refused:
        raise refused[0][1]
    session.expire(draft)  # its status changed in bulk
    return session.get_one(OutboxEntry, entries[draft.id])


def approved_draft_ids(session: Session) -> list[int]:
    """Approved drafts that are not in the outbox yet, oldest approval first."""
    query = select(Draft.id).where(Draft.status == queue.APPROVED).order_by(Draft.approved_at)
    return list(session.scalars(query))
