"""Lanes: each SMTP connection sends its share of a claimed batch, one message at a time.

Before a message's DATA command its start is committed (``ledger.progress``) together with
the outcomes its lane learnt since the last commit, that is the message before it's. When a
lane ends, its last outcome is committed before it returns. So, whatever moment the process
dies at, each connection has at most one row that is started and has no outcome: the one
message that may be on the wire. The commit is made while MAIL FROM is on the wire (its
round trip hides it), and DATA waits for it; when it has to wait for the write lock it goes
to the run's database thread (``Journal``) while RCPT TO goes out too.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from outreach.config import Clock
from outreach.errors import SendError
from outreach.sending import ledger
from outreach.sending import outbox as sending
from outreach.servers.smtp import (
    Outcome,
    Permanent,
    SmtpConnection,
    Transient,
    Uncertain,
)
from outreach.servers.smtp_retry import send_with_retry
from outreach.store import Store

_T = TypeVar("_T")
Sleep = Callable[[float], Awaitable[None]]
OnDb = Callable[[Callable[[], _T]], Awaitable[_T]]
TRANSIENT_STREAK = 3  # consecutive temporary failures: the server is down, stop this run


class Journal:
    """The run's progress writer.

    A step is committed right away on the event loop's own connection when the store allows
    it (SQLite whose commits may skip the flush: ~0.1 ms, no thread hop), and on the run's
    database thread when it must wait: another writer holds the lock, or every commit is
    flushed (PostgreSQL, or no known epoch).
    """

    def __init__(self, store: Store, epoch: str, on_db: OnDb[None], clock: Clock) -> None:
        self.store, self.epoch, self.on_db, self.clock = store, epoch, on_db, clock
        self._stack = ExitStack()
        self._connection: Connection | None = None  # the database thread's
        self._inline: Connection | None = None  # the event loop's; never waits for a lock
        self._fast = bool(epoch) and store.engine.dialect.name == "sqlite"

    def _open(self) -> Connection:
        if self._connection is None:
            self._connection = self._stack.enter_context(self.store.progress_connection(self.epoch))
        return self._connection

    def step(self, done: Sequence[ledger.Result], starting: int | None) -> asyncio.Future[None]:
        """Commit these outcomes and the start of ``starting``; the future says when it is done."""
        now = self.clock()
        if self._fast:
            if self._inline is None:
                connection = self.store.progress_connection(self.epoch, wait=False)
                self._inline = self._stack.enter_context(connection)
            try:
                ledger.progress(self._inline, done, starting, now=now)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
            else:
                committed = asyncio.get_running_loop().create_future()
                committed.set_result(None)
                return committed
        write = partial(self._write, list(done), starting, now)  # waits for the lock
        return asyncio.ensure_future(self.on_db(write))

    def _write(self, done: list[ledger.Result], starting: int | None, now: datetime) -> None:
        ledger.progress(self._open(), done, starting, now=now)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work on the database thread's connection, committed like a step.

        Recording a batch's outcomes on their drafts needs no disk flush of its own: the rows
        it mirrors are committed already, and a crash before it is repaired by ``reconcile``.
        """
        with Session(bind=self._open(), expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        """Give the connections back (call it on the database thread, after the last step)."""
        self._connection = self._inline = None
        self._stack.close()


class _Start:
    """One message's progress commit, begun once: when its MAIL FROM is on the wire, or else
    before anything else happens to it (a retry, or its lane's next message)."""

    def __init__(self, journal: Journal, done: Sequence[ledger.Result], entry_id: int) -> None:
        self.journal, self.done, self.entry_id = journal, list(done), entry_id
        self.future: asyncio.Future[None] | None = None

    def __call__(self) -> asyncio.Future[None]:
        if self.future is None:
            self.future = self.journal.step(self.done, self.entry_id)
        return self.future


async def _attempt(
    conn: SmtpConnection, sender: str, message: sending.Claimed, start: _Start, sleep: Sleep
) -> tuple[Outcome | None, BaseException | None]:
    """Send one message once its start is on record; None when it never reached DATA."""
    try:
        digest = message.raw_hash  # checked by the transport right before it sends
        outcome = await conn.send(
            sender, [message.to_email], message.raw, sha256=digest, before_data=start
        )
        if isinstance(outcome, Transient):  # the first try is the common case: no tenacity
            await start()  # a retry may reach DATA: its start must be on record first
            outcome = await send_with_retry(
                conn,
                sender,
                [message.to_email],
                message.raw,
                attempts=3,
                sleep=sleep,
                sha256=digest,
            )
    except SendError as exc:  # an envelope no server will take
        return Permanent(0, f"not sent: {exc}"), None
    except BaseException as exc:  # the store failed, settings unusable, a bug, or cancelled
        return (Uncertain(f"sender error: {exc}") if conn.reached_data else None), exc
    return outcome, None


async def send_lane(
    conn: SmtpConnection,
    sender: str,
    claimed: Sequence[sending.Claimed],
    journal: Journal,
    sleep: Sleep,
) -> tuple[list[ledger.Result], BaseException | None]:
    """Send claimed messages in order; never lose track of one, even on an error.

    Messages left unattempted after an error or a run of temporary failures come back with
    no outcome (``None``): the caller releases them to the queue.
    """
    results: list[ledger.Result] = []
    unwritten: list[ledger.Result] = []
    error: BaseException | None = None
    streak = 0
    for index, message in enumerate(claimed):
        start = _Start(journal, unwritten, message.id)
        outcome, error = await _attempt(conn, sender, message, start, sleep)
        try:
            await start()  # begun by now, unless the message failed before MAIL FROM
        except Exception as exc:  # the store refused: nothing more may reach DATA
            error = error or exc
        else:
            for item in unwritten:
                item.journaled = True
            unwritten = []
        item = ledger.result(message, outcome, journal.clock())
        results.append(item)
        unwritten.append(item)
        streak = streak + 1 if isinstance(outcome, Transient) else 0
        if error is not None or streak >= TRANSIENT_STREAK:
            now = journal.clock()
            results += [ledger.result(rest, None, now) for rest in claimed[index + 1 :]]
            break
    if unwritten and error is None:
        try:  # the lane's last outcome, before anything of the next batch reaches DATA
            await journal.step(unwritten, None)
        except Exception as exc:
            error = exc
        else:
            for item in unwritten:
                item.journaled = True
    return results, error


async def send_lanes(
    conns: Sequence[SmtpConnection],
    sender: str,
    claimed: Sequence[sending.Claimed],
    journal: Journal,
    sleep: Sleep,
) -> tuple[list[ledger.Result], BaseException | None]:
    """Send a batch over one connection, or spread it over several (bulk runs)."""
    lanes = [list(claimed[k :: len(conns)]) for k in range(len(conns))]
    lanes = [lane for lane in lanes if lane]
    if len(lanes) <= 1:
        return await send_lane(conns[0], sender, claimed, journal, sleep)
    pairs = zip(conns, lanes, strict=False)  # fewer lanes than connections in a small batch
    done = await asyncio.gather(*(send_lane(c, sender, lane, journal, sleep) for c, lane in pairs))
    results = [item for lane_results, _ in done for item in lane_results]
    errors = [error for _, error in done if error is not None]
    return results, errors[0] if errors else None
