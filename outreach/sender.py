"""The sender: one per mailbox, sends what pacing says is due, records every outcome.

A run takes the mailbox lock, turns rows a dead sender left in ``sending`` into ``uncertain``,
looks for uncertain messages in the IMAP Sent folder, freezes newly approved drafts, then
sends what is due. Each batch of rows is committed as ``sending`` before the first byte goes
to the server, and the outcomes of the batch are committed right after it: a crash leaves at
most one batch ``sending``, which the next run shows as ``uncertain``. With pacing on, a
batch is one message (the gap makes only one due at a time); ``batch_size`` matters only for
bulk runs with pacing off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select

from . import followups, ledger, sending
from .config import Settings, smtp_password
from .errors import ConfigError, SendError
from .pacing import Pacing, Slot, plan
from .sendlock import mailbox_lock
from .sent_folder import (
    MailboxFactory,
    answered_since,
    check_sent_folder,
    file_sent_copies,
)
from .smtp import (
    Outcome,
    Permanent,
    SmtpConnection,
    SmtpSettings,
    Transient,
    Uncertain,
    send_with_retry,
)
from .store import Store
from .store.models import OutboxEntry

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
ACTOR = "sender"
_T = TypeVar("_T")
ENQUEUE_BATCH = 200  # drafts frozen per transaction
TRANSIENT_STREAK = 3  # consecutive temporary failures: the server is down, stop this run


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
    reconciled: list[int] = field(default_factory=list)
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


def mailbox_plan(store: Store, settings: Settings, pacing: Pacing, *, now: datetime) -> list[Slot]:
    """The send order and slots of the sender mailbox's queued messages."""
    mailbox = settings.sender.email
    with store.session() as session:
        items = sending.waiting(session, mailbox, settings, now=now)
        last, recent = sending.history(session, mailbox, now=now)
    return plan(items, pacing, now=now, last_sent=last, recent_sends=recent)


def enqueue_approved(
    store: Store, settings: Settings, *, now: datetime, actor: str, report: RunReport
) -> None:
    """Freeze every approved draft into the outbox, a batch per transaction.

    A draft that cannot be sent as approved is reported, and is pending again with the reason.
    """
    with store.session() as session:
        ids = sending.approved_draft_ids(session)
    for start in range(0, len(ids), ENQUEUE_BATCH):
        with store.session() as session:
            entries, refused = sending.freeze(
                session, ids[start : start + ENQUEUE_BATCH], settings, actor=actor, now=now
            )
        report.enqueued += len(entries)
        report.warnings += [f"draft {draft_id} not queued: {exc}" for draft_id, exc in refused]


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


async def _send_batch(
    conn: SmtpConnection,
    sender: str,
    claimed: Sequence[ledger.Claimed],
    sleep: Sleep,
) -> tuple[list[tuple[ledger.Claimed, Outcome | None]], BaseException | None]:
    """Send claimed messages in order; never lose track of one, even on an error."""
    results: list[tuple[ledger.Claimed, Outcome | None]] = []
    streak = 0
    for index, message in enumerate(claimed):
        try:
            digest = message.raw_hash  # checked by the transport right before it sends
            outcome = await conn.send(sender, [message.to_email], message.raw, sha256=digest)
            if isinstance(outcome, Transient):  # the first try is the common case: no tenacity
                outcome = await send_with_retry(
                    conn, sender, [message.to_email], message.raw, attempts=3, sleep=sleep,
                    sha256=digest,
                )  # fmt: skip
        except SendError as exc:  # an envelope no server will take
            outcome = Permanent(0, f"not sent: {exc}")
        except BaseException as exc:  # settings unusable, or a bug: nothing more goes out
            sent_state = None if isinstance(exc, ConfigError) else Uncertain(f"sender error: {exc}")
            results.append((message, sent_state))
            results += [(rest, None) for rest in claimed[index + 1 :]]
            return results, exc
        results.append((message, outcome))
        streak = streak + 1 if isinstance(outcome, Transient) else 0
        if streak >= TRANSIENT_STREAK:
            results += [(rest, None) for rest in claimed[index + 1 :]]
            return results, None
    return results, None


async def _send_lanes(
    conns: Sequence[SmtpConnection],
    sender: str,
    claimed: Sequence[ledger.Claimed],
    sleep: Sleep,
) -> tuple[list[tuple[ledger.Claimed, Outcome | None]], BaseException | None]:
    """Send a batch over one connection, or spread it over several (bulk runs)."""
    lanes = [list(claimed[k :: len(conns)]) for k in range(len(conns))]
    lanes = [lane for lane in lanes if lane]
    if len(lanes) <= 1:
        return await _send_batch(conns[0], sender, claimed, sleep)
    done = await asyncio.gather(
        *(_send_batch(conn, sender, lane, sleep) for conn, lane in zip(conns, lanes, strict=False))
    )
    results = [pair for lane_results, _ in done for pair in lane_results]
    errors = [error for _, error in done if error is not None]
    return results, errors[0] if errors else None


async def run_sender(
    store: Store,
    settings: Settings,
    *,
    clock: Clock,
    pacing: Pacing | None = None,
    smtp: SmtpSettings | None = None,
    mailbox_factory: MailboxFactory | None = None,
    limit: int | None = None,
    batch_size: int = 50,
    connections: int = 1,
    wait: bool = False,
    sleep: Sleep = asyncio.sleep,
    actor: str = ACTOR,
) -> RunReport:
    """Send what is due from the sender mailbox, exactly once; with ``wait``, until done."""
    pacing = pacing or Pacing.from_settings(settings)
    mailbox = settings.sender.email
    report = RunReport()
    with mailbox_lock(store, mailbox):
        salt = store.salt()
        with store.session() as session:
            report.reconciled = sending.reconcile(session, mailbox, now=clock(), actor=actor)
        if mailbox_factory is not None:
            await asyncio.to_thread(
                _check_sent, store, mailbox, mailbox_factory, clock=clock, report=report
            )
        enqueue_approved(store, settings, now=clock(), actor=actor, report=report)
        transport = smtp or smtp_settings(settings)
        async with AsyncExitStack() as stack:
            conns = [
                await stack.enter_async_context(SmtpConnection(transport))
                for _ in range(max(connections, 1))
            ]  # each connects only when it first sends
            run = _Run(
                store, settings, conns, pacing, report, clock, salt, batch_size, sleep, actor,
                mailbox_factory,
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
    """One run's loop. Database work runs on one worker thread, overlapping the SMTP waits:
    batch n+1 is claimed (and committed) while batch n is on the wire, and batch n's outcomes
    are committed while batch n+1 goes out. Nothing is sent before its claim is committed."""

    store: Store
    settings: Settings
    conns: list[SmtpConnection]
    pacing: Pacing
    report: RunReport
    clock: Clock
    salt: str
    batch_size: int
    sleep: Sleep
    actor: str
    mailbox_factory: MailboxFactory | None = None
    db: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "outreach-db"))
    sent: int = 0

    async def _db(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self.db, fn)

    def _claim(self, ids: Sequence[int]) -> list[ledger.Claimed]:
        with self.store.session() as session:
            claimed, skipped = ledger.claim(
                session, ids, self.settings, salt=self.salt, now=self.clock(), actor=self.actor
            )
        for skip in skipped:
            if skip.state == sending.FAILED:
                self.report.failed.append(skip.id)
                self.report.warnings.append(f"#{skip.id} failed: {skip.reason}")
                continue
            target = self.report.cancelled if skip.state == sending.CANCELLED else self.report.held
            target.append((skip.id, skip.reason))
        return claimed

    def _record(self, results: Sequence[tuple[ledger.Claimed, Outcome | None]]) -> None:
        with self.store.session() as session:
            now = self.clock()
            states = ledger.record_all(session, results, now=now, actor=self.actor)
            sent = [m.draft_id for (m, _), state in zip(results, states, strict=True)
                    if state == sending.SENT]  # fmt: skip
            if sent:  # a campaign step went out: its next step's due time is known now
                followups.schedule(session, self.settings, now=now, draft_ids=sent)
        lists = {
            sending.SENT: self.report.sent,
            sending.FAILED: self.report.failed,
            sending.UNCERTAIN: self.report.uncertain,
            sending.QUEUED: self.report.requeued,
        }
        for (message, outcome), state in zip(results, states, strict=True):
            if outcome is not None:
                lists[state].append(message.id)
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
        with self.store.session() as session:
            return sending.follow_ups_to_check(session, due)

    def _cancel_answered(self, answered: dict[int, str]) -> None:
        with self.store.session() as session:
            for entry_id, reason in answered.items():
                sending.cancel_entry(session, entry_id, reason, actor=self.actor, now=self.clock())
                self.report.cancelled.append((entry_id, reason))

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
                results, error = await _send_lanes(
                    self.conns, self.settings.sender.email, claimed, self.sleep
                )
                if recording is not None:
                    await recording
                recording = asyncio.ensure_future(self._db(partial(self._record, results)))
                claimed = await following if following is not None else []
                if error is not None or any(outcome is None for _, outcome in results):
                    # Stop: what the next batch claimed never went out, so release it.
                    released = [(message, None) for message in claimed]
                    await self._db(partial(self._record, released))
                    if error is not None:
                        raise error
                    self.report.stopped = "the server kept failing temporarily; the rest waits"
                    return False
        finally:
            if recording is not None:
                await recording
        return True

    async def loop(self, limit: int | None, wait: bool) -> None:
        try:
            while limit is None or self.sent < limit:
                now = self.clock()
                plan_now = partial(mailbox_plan, self.store, self.settings, self.pacing, now=now)
                slots = await self._db(plan_now)
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
                if due and not await self.send_due(due):
                    return
        finally:
            self.db.shutdown(wait=True)


def dry_run(
    store: Store,
    settings: Settings,
    folder: Path,
    *,
    now: datetime,
    pacing: Pacing | None = None,
    limit: int | None = None,
) -> list[tuple[Path, str]]:
    """Write the exact .eml of every message the outbox would send, in order; send nothing.

    Queued messages are written as frozen. Approved drafts not yet frozen are built as they
    would be now. A message whose Date is more than a few minutes old when it is really sent
    goes out dated then (``messages.restamp``).
    """
    pacing = pacing or Pacing.from_settings(settings)
    slots = mailbox_plan(store, settings, pacing, now=now)
    written: list[tuple[Path, str]] = []
    folder.mkdir(parents=True, exist_ok=True)
    with store.session() as session:
        query = select(OutboxEntry.id, OutboxEntry.raw).where(
            OutboxEntry.id.in_([s.id for s in slots])
        )
        raws = {entry_id: raw for entry_id, raw in session.execute(query)}
        jobs: list[tuple[str, bytes, str]] = [
            (f"outbox{s.id}", raws[s.id], s.reason or "due now") for s in slots
        ]
        built, refused = sending.build_all(
            session, sending.approved_draft_ids(session), settings, now=now
        )
        if refused:
            raise refused[0][1]
        later = "approved, frozen at the next run"
        jobs += [(f"draft{item.draft_id}", item.values["raw"], later) for item in built]
    for number, (name, raw, why) in enumerate(jobs[:limit] if limit else jobs, start=1):
        path = folder / f"{number:04d}-{name}.eml"
        path.write_bytes(raw)
        written.append((path, why))
    return written


def outbox_listing(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    pacing: Pacing | None = None,
    states: Sequence[str] = (sending.QUEUED, sending.SENDING, sending.UNCERTAIN, sending.FAILED),
) -> list[dict[str, object]]:
    """Every outbox row in the given states: queued ones in send order with slot and reason."""
    pacing = pacing or Pacing.from_settings(settings)
    slots = {s.id: (n, s) for n, s in enumerate(mailbox_plan(store, settings, pacing, now=now))}
    with store.session() as session:
        entries = list(
            session.scalars(select(OutboxEntry).where(OutboxEntry.state.in_(tuple(states))))
        )
    keyed: list[tuple[tuple[bool, int, int], dict[str, object]]] = []
    for entry in entries:
        order, slot = slots.get(entry.id, (len(slots), None))
        why = entry.wait_reason
        if slot is not None:
            why = slot.reason or "due now"
        row: dict[str, object] = {
            "id": entry.id,
            "draft_id": entry.draft_id,
            "to": entry.to_email,
            "kind": entry.kind,
            "state": entry.state,
            "attempts": entry.attempts,
            "next_at": slot.at.isoformat() if slot else None,
            "why": why,
            "last_reply": entry.last_reply,
            "sent_at": entry.sent_at.isoformat() if entry.sent_at else None,
        }
        keyed.append(((entry.state != sending.QUEUED, order, entry.id), row))
    return [row for _, row in sorted(keyed, key=lambda pair: pair[0])]
