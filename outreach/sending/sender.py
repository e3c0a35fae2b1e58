"""The sender: one per mailbox, sends what pacing says is due, records every outcome.

A run takes the mailbox lock and settles what a sender that stopped left ``sending``
(``recovery.reconcile``): a message whose SMTP transaction had begun is ``uncertain``, one that
was claimed but never attempted goes back to the queue. It looks for uncertain messages in the
IMAP Sent folder, freezes newly approved drafts, then sends what is due: rows are claimed a
batch at a time (committed before connecting), and each message's progress is committed on
its own before its DATA command (``outreach.sending.lanes``). A crash thus leaves at most one
uncertain message per connection, never a whole batch. Where a mailbox is configured, due
messages approved before the last sync are first looked for in the Sent folder: a store
restored from a backup must not send again what already went out.

Durability and speed. The commit before each DATA sits on the critical path between two
messages. Flushed to disk (``synchronous=FULL``: 0.7 ms on an idle disk here, up to 8 ms on a
busy one), or made through SQLAlchemy on the database thread (0.3-0.6 ms, plus a thread hop
each way), it halved the bulk rate on loopback (``bench/send.py``). So on SQLite the step is
two prepared UPDATEs on the driver (~0.1 ms), made on the event loop's own connection while
MAIL FROM is on the wire, and never waiting for the lock: when another writer holds it, the
step goes to the database thread while RCPT TO goes out. It commits without the flush
(``synchronous=NORMAL``: WAL frames reach the operating system at once, so they survive the
death of the process, not of the machine); claims are still flushed, and a flushed commit
makes every commit before it durable. What a lost flush could break is guarded by
``claim_epoch``: every claim records the machine's boot id (PostgreSQL: the server's start
time, for a server running ``synchronous_commit = off``), and a row found ``sending`` under
another epoch is treated as if every message of its claim may have gone out: ``uncertain``,
a person or the Sent folder decides. So a process crash costs at most one uncertain message
per connection, a power cut at most a claim, and neither sends a message twice; a machine
that cannot tell its boots apart flushes every commit. Claims are 200 rows (the batch size
no longer bounds what a crash costs), which pays for the steps: bulk sending ends up faster
than with the old per-batch ledger (figures in CHANGELOG.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import select

from outreach.campaigns import followups
from outreach.config import Clock, Settings, smtp_password
from outreach.sending import freezing, ledger, recovery, waiting
from outreach.sending import outbox as sending
from outreach.sending.lanes import Journal, send_lanes
from outreach.sending.lock import mailbox_lock
from outreach.sending.pacing import Pacing, Slot
from outreach.sending.preview import mailbox_plan
from outreach.sending.sent_folder import (
    MailboxFactory,
    answered_since,
    approved_before_last_sync,
    check_sent_folder,
    file_sent_copies,
    sent_already,
)
from outreach.servers.smtp import SmtpConnection, SmtpSettings
from outreach.store import Store
from outreach.store.models import OutboxEntry

Sleep = Callable[[float], Awaitable[None]]
ACTOR = "sender"
_T = TypeVar("_T")
ENQUEUE_BATCH = 200  # drafts frozen per transaction
# Rows claimed per transaction in bulk runs. A crash costs at most one uncertain message per
# connection whatever the size; a larger claim only spreads its fixed cost thinner.
BATCH = 200


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The transport settings from config.toml and the SMTP secret."""
    s = settings.smtp
    token_command = s.oauth2_token_command or None
    return SmtpSettings(
        host=s.host,
        port=s.port,
        security=s.security,
        username=s.username or None,
        password=None if token_command else smtp_password(),
        oauth2_token_command=token_command,
        timeout=s.timeout_seconds,
    )


@dataclass
class RunReport:
    """What one run did."""

    enqueued: int = 0
    reconciled: list[int] = field(default_factory=list)  # left sending by a stopped sender
    released: list[int] = field(default_factory=list)  # claimed by it, never attempted: queued
    found_in_sent: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    cancelled: list[tuple[int, str]] = field(default_factory=list)
    held: list[tuple[int, str]] = field(default_factory=list)
    filed: int = 0
    warnings: list[str] = field(default_factory=list)
    next_slot: Slot | None = None
    stopped: str = ""


def enqueue_approved(
    store: Store, settings: Settings, *, now: datetime, actor: str, report: RunReport
) -> None:
    """Freeze every approved draft into the outbox, a batch per transaction.

    A draft that cannot be sent as approved is reported, and is pending again with the reason.
    """
    with store.read() as session:
        ids = freezing.approved_draft_ids(session)
    for start in range(0, len(ids), ENQUEUE_BATCH):
        with store.session() as session:
            entries, refused = freezing.freeze(
                session, ids[start : start + ENQUEUE_BATCH], settings, actor=actor, now=now
            )
        report.enqueued += len(entries)
        report.warnings += [f"draft {draft_id} not queued: {exc}" for draft_id, exc in refused]


def _prepare(
    store: Store, settings: Settings, *, clock: Clock, actor: str, report: RunReport
) -> tuple[str, str]:
    """Settle what a stopped sender left, freeze approved drafts; the salt and the epoch."""
    salt = store.salt()
    epoch = store.durability_epoch()
    with store.session() as session:
        now = clock()
        found = recovery.reconcile(
            session, settings.sender.email, epoch=epoch, now=now, actor=actor
        )
        if found.sent_drafts:
            followups.schedule(session, settings, now=now, draft_ids=found.sent_drafts)
    report.reconciled, report.released = found.uncertain, found.requeued
    enqueue_approved(store, settings, now=clock(), actor=actor, report=report)
    return salt, epoch


def _check_sent(
    store: Store, mailbox: str, factory: MailboxFactory, *, clock: Clock, report: RunReport
) -> None:
    found, warning = check_sent_folder(store, mailbox, factory, clock=clock, actor=ACTOR)
    report.found_in_sent += found
    if warning:
        report.warnings.append(warning)


def _file_copies(
    store: Store, settings: Settings, factory: MailboxFactory, *, report: RunReport
) -> None:
    filed, warning = file_sent_copies(store, settings, factory)
    report.filed += filed
    if warning:
        report.warnings.append(warning)


async def run_sender(
    store: Store,
    settings: Settings,
    *,
    clock: Clock,
    pacing: Pacing | None = None,
    smtp: SmtpSettings | None = None,
    mailbox_factory: MailboxFactory | None = None,
    limit: int | None = None,
    batch_size: int = BATCH,
    connections: int = 1,
    wait: bool = False,
    sleep: Sleep = asyncio.sleep,
    actor: str = ACTOR,
) -> RunReport:
    """Send what is due from the sender mailbox, exactly once; with ``wait``, until done.

    Database work runs in worker threads: a store busy with another writer makes this run
    wait, never the event loop it shares with the web UI in `outreach serve`.
    """
    pacing = pacing or Pacing.from_settings(settings)
    mailbox = settings.sender.email
    report = RunReport()
    async with AsyncExitStack() as held:
        await asyncio.to_thread(held.enter_context, mailbox_lock(store, mailbox))
        salt, epoch = await asyncio.to_thread(
            partial(_prepare, store, settings, clock=clock, actor=actor, report=report)
        )
        if mailbox_factory is not None:
            await asyncio.to_thread(
                _check_sent, store, mailbox, mailbox_factory, clock=clock, report=report
            )
        transport = smtp or smtp_settings(settings)
        async with AsyncExitStack() as stack:
            conns = [
                await stack.enter_async_context(SmtpConnection(transport))
                for _ in range(max(connections, 1))
            ]  # each connects only when it first sends
            run = _Run(
                store, settings, conns, pacing, report, clock, salt, epoch, batch_size, sleep,
                actor, mailbox_factory,
            )  # fmt: skip
            await run.loop(limit, wait)
        if mailbox_factory is not None:
            await asyncio.to_thread(
                _check_sent, store, mailbox, mailbox_factory, clock=clock, report=report
            )
            await asyncio.to_thread(_file_copies, store, settings, mailbox_factory, report=report)
    return report


@dataclass
class _Run:
    """One run's loop. Batch work runs on one database thread, overlapping the SMTP waits:
    batch n+1 is claimed (and committed) while batch n is on the wire, and batch n's outcomes
    are mirrored on their drafts while batch n+1 goes out. Each message's progress is written
    by the ``Journal``; nothing reaches DATA before its start is committed."""

    store: Store
    settings: Settings
    conns: list[SmtpConnection]
    pacing: Pacing
    report: RunReport
    clock: Clock
    salt: str
    epoch: str
    batch_size: int
    sleep: Sleep
    actor: str
    mailbox_factory: MailboxFactory | None = None
    db: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "outreach-db"))
    sent: int = 0
    checked: set[int] = field(default_factory=set)  # not in the Sent folder: may go
    held_back: set[int] = field(default_factory=set)  # the Sent folder could not say: wait
    journal: Journal = field(init=False)

    def __post_init__(self) -> None:
        self.journal = Journal(self.store, self.epoch, self._db, self.clock)

    async def _db(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self.db, fn)

    def _claim(self, ids: Sequence[int]) -> list[sending.Claimed]:
        with self.store.session() as session:
            claimed, skipped = sending.claim(
                session, ids, self.settings, salt=self.salt, now=self.clock(), actor=self.actor,
                epoch=self.epoch,
            )  # fmt: skip
        for skip in skipped:
            if skip.state == sending.FAILED:
                self.report.failed.append(skip.id)
                self.report.warnings.append(f"#{skip.id} failed: {skip.reason}")
                continue
            target = self.report.cancelled if skip.state == sending.CANCELLED else self.report.held
            target.append((skip.id, skip.reason))
        return claimed

    def _record(self, results: Sequence[ledger.Result]) -> None:
        with self.journal.session() as session:
            now = self.clock()
            states = ledger.record_all(session, results, now=now, actor=self.actor)
            sent = [item.claimed.draft_id for item in results if item.state == sending.SENT]
            if sent:  # a campaign step went out: its next step's due time is known now
                followups.schedule(session, self.settings, now=now, draft_ids=sent)
        lists = {
            sending.SENT: self.report.sent,
            sending.FAILED: self.report.failed,
            sending.UNCERTAIN: self.report.uncertain,
            sending.QUEUED: self.report.requeued,
        }
        for item, state in zip(results, states, strict=True):
            if item.outcome is not None:
                lists[state].append(item.claimed.id)
                self.sent += state == sending.SENT

    async def _skip_answered(self, due: list[int]) -> list[int]:
        """Just before follow-ups go, ask the inbox whether their candidates wrote since."""
        if self.mailbox_factory is None:
            return due
        plan = partial(self._follow_ups_to_check, due)
        checks = await self._db(plan)
        if not checks:
            return due
        answered = await asyncio.to_thread(answered_since, self.mailbox_factory, checks)
        if answered:
            await self._db(partial(self._cancel_answered, answered))
        return [entry_id for entry_id in due if entry_id not in answered]

    def _follow_ups_to_check(self, due: Sequence[int]) -> list[tuple[int, str, datetime]]:
        with self.store.read() as session:
            return waiting.follow_ups_to_check(session, due)

    def _cancel_answered(self, answered: dict[int, str]) -> None:
        with self.store.session() as session:
            for entry_id, reason in answered.items():
                sending.cancel_entry(session, entry_id, reason, actor=self.actor, now=self.clock())
                self.report.cancelled.append((entry_id, reason))

    async def _skip_sent_already(self, due: list[int]) -> list[int]:
        """Due messages approved before the last sync: look for each in the Sent folder first.

        One found there went out already (the store was restored from a backup): it becomes
        sent, not sent again. When the folder cannot be read, they wait for a later run.
        """
        if self.mailbox_factory is None:
            return due
        fresh = [entry_id for entry_id in due if entry_id not in self.checked]
        rows = await self._db(partial(self._approved_before_sync, fresh))
        if not rows:
            return due
        found, warning = await asyncio.to_thread(sent_already, self.mailbox_factory, rows)
        asked = {entry_id for entry_id, _ in rows}
        if warning is not None:
            self.report.warnings.append(warning)
            self.held_back |= asked
            return [entry_id for entry_id in due if entry_id not in asked]
        self.checked |= asked
        if found:
            await self._db(partial(self._mark_found, found))
        return [entry_id for entry_id in due if entry_id not in found]

    def _mark_found(self, found: Sequence[int]) -> None:
        with self.store.session() as session:
            now = self.clock()
            for entry_id in found:
                sending.found_in_sent_folder(session, entry_id, now=now, actor=self.actor)
            drafts = session.scalars(select(OutboxEntry.draft_id).where(OutboxEntry.id.in_(found)))
            followups.schedule(session, self.settings, now=now, draft_ids=list(drafts))
        self.report.found_in_sent += found

    def _approved_before_sync(self, ids: Sequence[int]) -> list[tuple[int, str]]:
        with self.store.read() as session:
            return approved_before_last_sync(session, self.settings, ids)

    async def send_due(self, due: Sequence[int]) -> bool:
        """Send these rows in batches; False when the run must stop."""
        batches = [due[n : n + self.batch_size] for n in range(0, len(due), self.batch_size)]
        claimed = await self._db(partial(self._claim, batches[0]))
        recording: asyncio.Future[None] | None = None
        try:
            for number in range(len(batches)):
                following = None
                if number + 1 < len(batches):
                    claim_next = partial(self._claim, batches[number + 1])
                    following = asyncio.ensure_future(self._db(claim_next))
                results, error = await send_lanes(
                    self.conns, self.settings.sender.email, claimed, self.journal, self.sleep
                )
                if recording is not None:
                    await asyncio.shield(recording)
                # Shielded: a cancelled run (the server stopping) still records what went out.
                recording = asyncio.ensure_future(self._db(partial(self._record, results)))
                claimed = await following if following is not None else []
                if error is not None or any(item.outcome is None for item in results):
                    # Stop: what the next batch claimed never went out, so release it.
                    now = self.clock()
                    released = [ledger.result(message, None, now) for message in claimed]
                    await asyncio.shield(self._db(partial(self._record, released)))
                    if error is not None:
                        raise error
                    self.report.stopped = "the server kept failing temporarily; the rest waits"
                    return False
        finally:
            if recording is not None:
                await asyncio.shield(recording)
        return True

    async def loop(self, limit: int | None, wait: bool) -> None:
        try:
            while limit is None or self.sent < limit:
                now = self.clock()
                plan_now = partial(mailbox_plan, self.store, self.settings, self.pacing, now=now)
                slots = [s for s in await self._db(plan_now) if s.id not in self.held_back]
                due = [slot.id for slot in slots if slot.due]
                if limit is not None:
                    due = due[: limit - self.sent]
                if not due:
                    self.report.next_slot = slots[0] if slots else None
                    if wait and slots:
                        await self.sleep(max((slots[0].at - now).total_seconds(), 0.0))
                        continue
                    return
                due = await self._skip_answered(due)
                due = await self._skip_sent_already(due)
                if due and not await self.send_due(due):
                    return
        finally:
            try:
                await self._db(self.journal.close)
            finally:
                self.db.shutdown(wait=True)
