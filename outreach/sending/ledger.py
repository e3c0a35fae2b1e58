"""The send ledger: each message's progress and outcome on the send path, and crash recovery.

A claimed row (``outreach.sending.outbox.claim``) is ``sending`` with no ``started_at``: owned
by a sender, not attempted. Before a message's DATA command, ``progress`` sets its
``started_at`` in the same commit as the outcome of the message before it on that connection;
so at any moment at most one row per connection is started and unrecorded. ``reconcile`` reads
that after a crash: a started row may have gone out (``uncertain``), an unstarted one goes back
to ``queued``. ``outreach.sending.sender`` explains why those commits may skip the disk flush
and what ``claim_epoch`` guards.

The batch record is the hot path too: the draft mirrors are one executemany per table, with
one audit event per change, the same record ``queue.set_status`` writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, select, update
from sqlalchemy.orm import Session

from outreach.review import queue
from outreach.sending.outbox import (
    DECIDE,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    UNCERTAIN,
    Claimed,
    outcome_values,
)
from outreach.servers.smtp import Outcome
from outreach.store.models import Draft, OutboxEntry


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


@dataclass
class Reconciled:
    """What a run found left behind by a sender that stopped."""

    uncertain: list[int] = field(default_factory=list)  # outbox ids that may have gone out
    requeued: list[int] = field(default_factory=list)  # claimed but never attempted
    sent_drafts: list[int] = field(default_factory=list)  # drafts whose "sent" was not mirrored


def reconcile(
    session: Session, mailbox: str, *, epoch: str, now: datetime, actor: str
) -> Reconciled:
    """Settle the rows a stopped sender left ``sending``; call it holding the mailbox lock.

    A started row may have reached DATA: ``uncertain``. One never started goes back to the
    queue, its attempt undone. When the row was claimed under another durability epoch (the
    machine or the database server restarted since), its progress marks may be lost, so every
    row is ``uncertain``. Drafts still showing ``sending`` for rows whose outcome was recorded
    get that outcome mirrored now.
    """
    found = Reconciled()
    rows = session.execute(
        select(
            OutboxEntry.id, OutboxEntry.draft_id, OutboxEntry.candidate_id,
            OutboxEntry.started_at, OutboxEntry.claim_epoch, OutboxEntry.lease_until,
            OutboxEntry.attempts,
        ).where(OutboxEntry.mailbox == mailbox, OutboxEntry.state == SENDING)
    ).all()  # fmt: skip
    changes: list[dict[str, Any]] = []
    mirrors: list[tuple[int, int, str, dict[str, Any]]] = []
    for row in rows:
        values: dict[str, Any] = {"id": row.id, "updated_at": now, "lease_until": None}
        if row.claim_epoch and row.claim_epoch != epoch:
            why = "the machine or the database restarted while it was being sent"
        elif row.started_at is not None:
            at = row.started_at.isoformat(timespec="seconds")
            why = f"the sender stopped after its SMTP transaction began ({at})"
        else:
            values.update(state=QUEUED, attempts=max(row.attempts - 1, 0), wait_reason="")
            changes.append(values)
            mirrors.append((row.draft_id, row.candidate_id, QUEUED, {"reason": "never attempted"}))
            found.requeued.append(row.id)
            continue
        values.update(
            state=UNCERTAIN, last_reply=why, wait_reason=f"{why}; {DECIDE.format(id=row.id)}"
        )
        changes.append(values)
        mirrors.append((row.draft_id, row.candidate_id, UNCERTAIN, {"reason": why}))
        found.uncertain.append(row.id)
    if changes:
        session.execute(update(OutboxEntry), changes)
    lagging = session.execute(
        select(OutboxEntry.id, OutboxEntry.draft_id, OutboxEntry.candidate_id, OutboxEntry.state)
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .where(
            OutboxEntry.mailbox == mailbox,
            OutboxEntry.state.in_((QUEUED, SENT, FAILED, UNCERTAIN)),
            Draft.status == SENDING,
        )
    ).all()
    for entry_id, draft_id, candidate_id, state in lagging:
        mirrors.append((draft_id, candidate_id, state, {"outbox": entry_id, "recovered": True}))
        if state == SENT:
            found.sent_drafts.append(draft_id)
    queue.set_status_many(session, mirrors, actor=actor, now=now)
    return found
