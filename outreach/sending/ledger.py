"""The send ledger: claim a batch of outbox rows, note each message's progress, record outcomes.

A claimed row is ``sending`` with no ``started_at``: owned by a sender, not attempted. Before a
message's DATA command, ``progress`` sets its ``started_at`` in the same commit as the outcome
of the message before it on that connection; so at any moment at most one row per connection
is started and unrecorded. ``recovery.reconcile`` reads that after a crash: a started row may
have gone out (``uncertain``), an unstarted one goes back to ``queued``. ``sending.sender``
explains why those commits may skip the disk flush and what ``claim_epoch`` guards.

Claims and the batch record are the hot path too, so each is a handful of set-based
statements per batch: the checks read one joined query, the claim is one conditional
``UPDATE … RETURNING`` (a row goes from ``queued`` to ``sending`` exactly once, whatever the
lock says), and the draft mirrors are one executemany per table, with one audit event per
change, the same record ``queue.set_status`` writes; refused and held rows (rare) go through
``queue`` one by one.

A claim computes the approval's hash again from what the store holds now (candidate, revision,
thread): a draft whose recipient or text changed after approval goes back to pending with the
reason, unsent. Frozen bytes that no longer match their own hash fail loudly, unsent. A Date
restamped at claim time gets its new hash in the same transaction, and the transport checks
that hash right before the message goes out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Row, and_, select, update
from sqlalchemy.orm import Session

from outreach.candidates.records import suppression_reasons
from outreach.config import Settings
from outreach.mail.messages import digest, restamp
from outreach.review import approval, queue
from outreach.sending.outbox import (
    CANCELLED,
    DECIDE,
    FAILED,
    LEASE,
    MAX_ATTEMPTS,
    QUEUED,
    SENDING,
    SENT,
    UNCERTAIN,
    backoff,
    cancel_entry,
    cap_hold,
    first_contacts,
)
from outreach.servers.smtp import Accepted, Outcome, Permanent, Transient, Uncertain
from outreach.store.models import Candidate, Draft, OutboxEntry, Revision
from outreach.store.values import CandidateStatus, DraftKind


@dataclass(frozen=True)
class Claimed:
    """A message this sender now owns: ``sending`` is committed, the bytes are ready."""

    id: int
    draft_id: int
    candidate_id: int
    message_id: str
    to_email: str
    raw: bytes
    attempt: int  # this attempt's number
    raw_hash: str  # of raw, committed with the claim; checked again right before sending


@dataclass(frozen=True)
class Skipped:
    id: int
    state: str  # cancelled | queued (held) | failed
    reason: str


def approval_refusal(row: Row[Any]) -> str | None:
    """``approval.approval_problem`` over a joined row: does the approval cover what is sent now?"""
    fingerprint = None
    if row.subject is not None:
        seen = approval.visible(
            kind=row.kind, to_name=row.candidate_name, to_email=row.candidate_email,
            subject=row.subject, body=row.body, in_reply_to=row.in_reply_to,
            references=row.references,
        )  # fmt: skip
        fingerprint = approval.fingerprint(seen)
    return approval.approval_problem(
        draft_id=row.draft_id,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        approved_hash=row.draft_hash,
        approved_revision=row.approved_revision,
        current_revision=row.current_revision,
        fingerprint=fingerprint,
        message_id=row.draft_message_id,
    )


def link_refusal(row: Row[Any]) -> str | None:
    """Why the frozen bytes are not those of the draft's current approval, or None."""
    if row.draft_hash != row.approved_hash or row.draft_message_id != row.message_id:
        return f"draft {row.draft_id} was approved again after its message was frozen"
    return None


def bytes_refusal(row: Row[Any]) -> str | None:
    """Why the frozen bytes cannot be trusted (they differ from their hash), or None."""
    if not row.raw_hash or digest(row.raw) != row.raw_hash:
        return (
            f"the frozen bytes of draft {row.draft_id} do not match the hash they were "
            "checked with; nothing was sent (approve the draft again to rebuild it)"
        )
    return None


def _load(session: Session, ids: Sequence[int]) -> list[Row[Any]]:
    query = (
        select(
            OutboxEntry.id, OutboxEntry.draft_id, OutboxEntry.candidate_id, OutboxEntry.state,
            OutboxEntry.kind, OutboxEntry.to_email, OutboxEntry.message_id,
            OutboxEntry.approved_hash, OutboxEntry.raw, OutboxEntry.raw_hash,
            OutboxEntry.attempts, Draft.status.label("draft_status"), Draft.approved_at,
            Draft.approved_by, Draft.approved_hash.label("draft_hash"), Draft.approved_revision,
            Draft.current_revision, Draft.message_id.label("draft_message_id"),
            Draft.in_reply_to, Draft.references, Revision.subject, Revision.body,
            Candidate.status.label("candidate_status"), Candidate.name.label("candidate_name"),
            Candidate.email.label("candidate_email"),
        )
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .join(Candidate, Candidate.id == OutboxEntry.candidate_id)
        .outerjoin(
            Revision,
            and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision),
        )
        .where(OutboxEntry.id.in_(ids))
    )  # fmt: skip
    return list(session.execute(query))


def _hold(session: Session, entry_id: int, until: datetime, reason: str, now: datetime) -> None:
    entry = session.get_one(OutboxEntry, entry_id)
    entry.not_before, entry.wait_reason, entry.updated_at = until, reason, now


def _withdraw(session: Session, row: Row[Any], reason: str, actor: str, now: datetime) -> None:
    """Take the row out of the outbox and its draft back to pending, with the reason."""
    entry = session.get_one(OutboxEntry, row.id)
    entry.state, entry.wait_reason, entry.updated_at = CANCELLED, reason, now
    queue.withdraw(session, session.get_one(Draft, row.draft_id), actor=actor, reason=reason)


def _fail(session: Session, row: Row[Any], reason: str, actor: str, now: datetime) -> None:
    """Fail the row loudly: it stays visible in `outreach outbox list` with the reason."""
    entry = session.get_one(OutboxEntry, row.id)
    entry.state, entry.wait_reason, entry.last_reply, entry.updated_at = FAILED, reason, reason, now
    draft = session.get_one(Draft, row.draft_id)
    queue.set_status(session, draft, FAILED, actor=actor, reason=reason)


def claim(
    session: Session,
    ids: Sequence[int],
    settings: Settings,
    *,
    salt: str,
    now: datetime,
    actor: str,
    epoch: str = "",
) -> tuple[list[Claimed], list[Skipped]]:
    """Check each row again and mark the sendable ones ``sending`` (commit before connecting).

    ``epoch`` is what the run's progress marks are written under (``Store.durability_epoch``).
    """
    rows = {row.id: row for row in _load(session, ids)}
    suppressed = suppression_reasons(session, salt, [row.to_email for row in rows.values()])
    firsts = [row.candidate_id for row in rows.values() if row.kind == DraftKind.OUTREACH]
    contacts = first_contacts(session, firsts, settings, now=now)
    ready: list[Row[Any]] = []
    skipped: list[Skipped] = []
    for entry_id in ids:
        row = rows.get(entry_id)
        if row is None or row.state != QUEUED:
            continue
        reason = None
        if row.draft_status != QUEUED:
            reason = f"refused: draft {row.draft_id} is {row.draft_status}, not queued"
        elif (problem := approval_refusal(row)) is not None:
            reason = f"refused: {problem}; the draft is pending again"
            _withdraw(session, row, problem, actor, now)
            skipped.append(Skipped(row.id, CANCELLED, reason))
            continue
        elif (problem := link_refusal(row)) is not None:
            reason = f"refused: {problem}"
        elif (problem := bytes_refusal(row)) is not None:
            _fail(session, row, f"refused: {problem}", actor, now)
            skipped.append(Skipped(row.id, FAILED, f"refused: {problem}"))
            continue
        elif row.candidate_status != CandidateStatus.ACTIVE:
            reason = f"suppressed: {row.to_email} is {row.candidate_status}"
        elif row.to_email in suppressed:
            why = suppressed[row.to_email]
            reason = f"suppressed: {row.to_email} is on the suppression list ({why})"
        if reason is not None:
            cancel_entry(session, row.id, reason, actor=actor, now=now)
            skipped.append(Skipped(row.id, CANCELLED, reason))
            continue
        if row.kind == DraftKind.OUTREACH:
            times = contacts.setdefault(row.candidate_id, [])
            until = cap_hold(times, settings, now=now)
            if until is not None:
                cap = settings.pacing
                reason = (
                    f"first-contact cap ({cap.first_contact_cap} in "
                    f"{cap.first_contact_window_days} days) reached for {row.to_email}"
                )
                _hold(session, row.id, until, reason, now)
                skipped.append(Skipped(row.id, QUEUED, reason))
                continue
            times.insert(0, now)  # a second first contact in this batch counts too
        ready.append(row)
    session.flush()
    won = set(
        session.scalars(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_([row.id for row in ready]), OutboxEntry.state == QUEUED)
            .values(
                state=SENDING,
                attempts=OutboxEntry.attempts + 1,
                lease_until=now + LEASE,
                started_at=None,
                claim_epoch=epoch,
                updated_at=now,
            )
            .returning(OutboxEntry.id)
            .execution_options(synchronize_session=False)
        )
    )
    claimed = []
    for r in ready:
        if r.id not in won:
            continue  # another sender got there first
        raw = restamp(r.raw, now)
        raw_hash = r.raw_hash if raw is r.raw else digest(raw)
        claimed.append(
            Claimed(r.id, r.draft_id, r.candidate_id, r.message_id, r.to_email, raw,
                    r.attempts + 1, raw_hash)
        )  # fmt: skip
    # A message that waited for its turn goes out dated now; the outbox keeps the exact bytes,
    # and their new hash, in the transaction that claims them.
    by_id = {r.id: r.raw for r in ready}
    restamped = [
        {"id": c.id, "raw": c.raw, "raw_hash": c.raw_hash}
        for c in claimed
        if c.raw is not by_id[c.id]
    ]
    if restamped:
        session.execute(update(OutboxEntry), restamped)
    queue.set_status_many(
        session,
        [(c.draft_id, c.candidate_id, SENDING, {"attempt": c.attempt}) for c in claimed],
        actor=actor,
        now=now,
    )
    return claimed, skipped


def outcome_values(claimed: Claimed, outcome: Outcome | None, now: datetime) -> dict[str, Any]:
    """The outbox columns after an outcome (``None``: released unsent, the attempt undone)."""
    values: dict[str, Any] = {
        "id": claimed.id,
        "state": QUEUED,
        "attempts": claimed.attempt,
        "lease_until": None,
        "not_before": None,
        "sent_at": None,
        "last_reply": "",
        "wait_reason": "",
        "updated_at": now,
    }
    if outcome is None:
        values["attempts"] = claimed.attempt - 1
    elif isinstance(outcome, Accepted):
        values.update(state=SENT, sent_at=now, last_reply=outcome.reply)
    elif isinstance(outcome, Permanent):
        reply = f"{outcome.code} {outcome.reply}" if outcome.code else outcome.reply
        why = f"the server refused it: {reply}" if outcome.code else reply  # 0: refused here
        values.update(state=FAILED, last_reply=reply, wait_reason=why)
    elif isinstance(outcome, Transient):
        values["last_reply"] = outcome.reply
        if claimed.attempt >= MAX_ATTEMPTS:
            reason = f"gave up after {claimed.attempt} attempts: {outcome.reply}"
            values.update(state=FAILED, wait_reason=reason)
        else:
            values.update(
                not_before=now + backoff(claimed.attempt),
                wait_reason=f"temporary failure ({outcome.reply}); retrying",
            )
    elif isinstance(outcome, Uncertain):
        wait = f"{outcome.reason}; not confirmed, {DECIDE.format(id=claimed.id)}"
        values.update(state=UNCERTAIN, last_reply=outcome.reason, wait_reason=wait)
    return values


@dataclass
class Result:
    """What became of a claimed message: the outbox columns, and whether they are written."""

    claimed: Claimed
    outcome: Outcome | None  # None: never attempted, back to the queue
    values: dict[str, Any] = field(default_factory=dict)
    journaled: bool = False  # ``progress`` has written ``values`` already

    @property
    def state(self) -> str:
        return str(self.values["state"])


def result(claimed: Claimed, outcome: Outcome | None, now: datetime) -> Result:
    """The outcome of a claimed message with the outbox columns it leads to."""
    return Result(claimed, outcome, outcome_values(claimed, outcome, now))


def progress(
    connection: Connection, done: Sequence[Result], starting: int | None, *, now: datetime
) -> None:
    """Commit one step of a connection: the outcomes just known, and the next message's start.

    Call it before that next message's DATA command; nothing else may reach DATA until it
    returns. It runs once per message on the sender's critical path, so on SQLite the two
    statements go straight to the driver, compiled once (a third of SQLAlchemy's time).
    """
    rows = [(item.claimed.id, item.values) for item in done]
    if connection.dialect.name != "sqlite":
        with connection.begin():
            for entry_id, values in rows:
                columns = {k: v for k, v in values.items() if k != "id"}
                connection.execute(update(OutboxEntry).where(OutboxEntry.id == entry_id), columns)
            if starting is not None:
                connection.execute(
                    update(OutboxEntry).where(OutboxEntry.id == starting), {"started_at": now}
                )
        return
    raw: Any = connection.connection.driver_connection
    raw.execute("BEGIN IMMEDIATE")  # SQLITE_BUSY here (no waiting) leaves nothing to undo
    try:
        for entry_id, values in rows:
            sql, params = _sqlite_update(connection.dialect, entry_id, values)
            raw.execute(sql, params)
        if starting is not None:
            sql, params = _sqlite_update(connection.dialect, starting, {"started_at": now})
            raw.execute(sql, params)
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise


def _sqlite_update(
    dialect: Dialect, entry_id: int, values: dict[str, Any]
) -> tuple[str, list[Any]]:
    """``UPDATE outbox SET … WHERE id = ?`` and its parameters, converted as SQLAlchemy would."""
    names = tuple(name for name in values if name != "id")
    sql, converters = _sqlite_statement(dialect, names)
    params = [
        value if convert is None else convert(value)
        for convert, value in zip(converters, (values[name] for name in names), strict=True)
    ]
    return sql, [*params, entry_id]


@functools.cache
def _sqlite_statement(
    dialect: Dialect, names: tuple[str, ...]
) -> tuple[str, list[Callable[[Any], Any] | None]]:
    columns = OutboxEntry.__table__.c
    assignments = ", ".join(f'"{name}" = ?' for name in names)
    sql = f'UPDATE "{OutboxEntry.__tablename__}" SET {assignments} WHERE "id" = ?'
    return sql, [columns[name].type.bind_processor(dialect) for name in names]


def record_all(
    session: Session, results: Sequence[Result], *, now: datetime, actor: str
) -> list[str]:
    """Store what ``progress`` has not, and mirror every outcome on its draft; the new states."""
    pending = [item.values for item in results if not item.journaled]
    if pending:
        session.execute(update(OutboxEntry), pending)
    queue.set_status_many(
        session,
        [
            (
                item.claimed.draft_id,
                item.claimed.candidate_id,
                item.state,
                {"outbox": item.claimed.id, "reply": item.values["last_reply"]},
            )
            for item in results
        ],
        actor=actor,
        now=now,
    )
    return [item.state for item in results]
