"""The send ledger: each message's progress and outcome on the send path, and crash recovery.

A claimed row (``outreach.sending.outbox.claim``) is ``sending`` with no ``started_at``: owned
by a sender, not attempted. Before a message's DATA command, ``progress`` sets its
``started_at`` in the same commit as the outcome of the message before it on that connection;
so at any moment at most one row per connection is started and unrecorded.
``recovery.reconcile`` reads that after a crash: a started row may have gone out
(``uncertain``), an unstarted one goes back to ``queued``. ``outreach.sending.sender``
explains why those commits may skip the disk flush and what ``claim_epoch`` guards.

The batch record is the hot path too: the draft mirrors are one executemany per table, with
one audit event per change, the same record ``queue.set_status`` writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, update
from sqlalchemy.orm import Session

from outreach.review import queue
from outreach.sending.outbox import (
    Claimed,
    outcome_values,
)
from outreach.servers.smtp import Outcome
from outreach.store.models import OutboxEntry


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
