"""The loops `outreach serve` runs beside the web UI: the sender, the inbox sync, the scheduler,
and (with ``privacy.retain_months``) the daily retention job.

``serve_jobs`` is the one list of them: the web app starts each when it starts and cancels
them when it stops. A new kind of background work (waiting on IMAP IDLE, say) is a
``*_forever`` function here and one more entry in that list.

Each loop runs rounds until it is cancelled and survives any exception a round raises: the
error goes to the log (with its traceback when it is not one of ours), into the store as the
loop's health (``outreach.jobs.health``: every web page and `outreach status` show it), and the
round is tried again after a growing delay. No loop holds a database session across a wait,
and their database work runs in worker threads, so a store busy with another writer slows a
loop down without freezing the web UI. The sender goes through the same core functions as
`outreach send` (approval check, suppression, pacing, the mailbox lock), so two senders, one
here and one from cron, still send each message once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from outreach.campaigns import followups
from outreach.candidates import retention
from outreach.config import Clock, Settings
from outreach.drafting.drafter import Drafter, make_llm
from outreach.errors import OutreachError
from outreach.inbox.sync import run_sync, suggest_replies
from outreach.jobs import health, watching
from outreach.sending.lock import LockBusy
from outreach.sending.sender import run_sender
from outreach.sending.sent_folder import imap_factory
from outreach.store import Store
from outreach.store.models import utcnow

log = logging.getLogger("outreach.jobs.loops")
Sleep = Callable[[float], Awaitable[None]]
Job = Callable[[], Coroutine[Any, Any, None]]
IDLE = 60.0  # seconds between looks at the outbox when nothing is scheduled
SHORTEST = 5.0  # the sender's shortest wait, and its first retry after a failure
RETRY = 30.0  # the sync's and the scheduler's first retry after a failure
DAY = 24 * 3600.0  # the retention job's round


@dataclass(frozen=True)
class Backoff:
    """Growing waits after failed rounds: ``first`` seconds, doubling, up to ``longest``."""

    first: float
    longest: float = 600.0

    def after(self, failures: int) -> float:
        """The wait after this many failed rounds in a row."""
        return min(self.longest, self.first * 2.0 ** max(failures - 1, 0))


@dataclass(frozen=True)
class Round:
    """What a good round did (for the health line) and how long to wait for the next."""

    wait: float
    detail: str = ""


async def supervise(
    component: str,
    store: Store,
    round_: Callable[[], Awaitable[Round]],
    *,
    backoff: Backoff,
    clock: Clock = utcnow,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Run rounds until cancelled; a round that fails, however, is logged, noted, retried."""
    failures = 0
    await _note(component, partial(health.record_started, store, component, now=clock()))
    try:
        while True:
            try:
                done = await round_()
            except Exception as exc:
                failures += 1
                wait = backoff.after(failures)
                error = health.describe(exc)
                detail = "%s failed (%d in a row): %s; retrying in %.0f s"
                if isinstance(exc, OutreachError):  # a clear message of ours: no traceback
                    log.warning(detail, component, failures, error, wait)
                else:
                    log.exception(detail, component, failures, error, wait)
                note = partial(health.record_failure, store, component, error)
            else:
                failures, wait = 0, done.wait
                note = partial(health.record_success, store, component, detail=done.detail)
            now = clock()
            await _note(component, partial(note, now=now, next_try=now + timedelta(seconds=wait)))
            await sleep(wait)
    finally:
        try:
            health.record_stopped(store, component, now=clock())
        except Exception:
            log.exception("%s: could not note that it stopped", component)


async def _note(component: str, write: Callable[[], None]) -> None:
    """Write a loop's health; a store that refuses it is logged, never fatal."""
    try:
        await asyncio.to_thread(write)
    except Exception:
        log.exception("%s: could not record its health in the store", component)


async def send_round(settings: Settings, store: Store, clock: Clock) -> Round:
    """Send what is approved and due; wait until the next paced slot (at most a minute)."""
    try:
        report = await run_sender(
            store, settings, clock=clock, mailbox_factory=imap_factory(settings)
        )
    except LockBusy as busy:  # `outreach send --wait` from cron has it: not a failure
        return Round(IDLE, str(busy))
    for warning in report.warnings:
        log.warning("sender: %s", warning)
    done = (
        f"sent {len(report.sent)}, failed {len(report.failed)}, "
        f"uncertain {len(report.uncertain) + len(report.reconciled)}"
    )
    if report.sent or report.failed or report.uncertain or report.reconciled:
        log.info("%s", done)
    wait = IDLE
    if report.next_slot is not None:
        ahead = (report.next_slot.at - clock()).total_seconds()
        wait = min(max(ahead, SHORTEST), IDLE)
    return Round(wait, done)


async def advance_round(settings: Settings, store: Store, clock: Clock) -> Round:
    """Draft the campaign follow-ups that are due into the review queue."""
    drafter = Drafter(settings, store, llm=make_llm(settings))
    try:
        report = await followups.advance(store, settings, drafter, now=clock())
    finally:
        await drafter.aclose()
    if report.drafted:
        log.info("drafted %d follow-ups for review", report.drafted)
    return Round(settings.sync.interval_minutes * 60, f"drafted {report.drafted}")


async def sync_round(settings: Settings, store: Store, clock: Clock) -> Round:
    """Read new mail once (in a worker thread: imapclient blocks), then suggest replies."""
    report = await asyncio.to_thread(partial(run_sync, settings, store, now=clock))
    log.info("%s", report.summary())
    if settings.sync.suggest_replies:
        await suggest_replies(settings, store)
    return Round(settings.sync.interval_minutes * 60, report.summary())


async def send_forever(
    settings: Settings, store: Store, *, clock: Clock = utcnow, sleep: Sleep = asyncio.sleep
) -> None:
    """Send what is approved and due, then wait for the next paced slot; until cancelled."""
    round_ = partial(send_round, settings, store, clock)
    backoff = Backoff(SHORTEST, longest=IDLE)  # cheap to retry; mail waits while it fails
    await supervise("sender", store, round_, backoff=backoff, clock=clock, sleep=sleep)


async def sync_forever(
    settings: Settings, store: Store, *, clock: Clock = utcnow, sleep: Sleep | None = None
) -> None:
    """Sync the mailbox every ``sync.interval_minutes``, and at once when IDLE reports new
    mail (``outreach.jobs.watching``), until cancelled."""
    round_ = partial(sync_round, settings, store, clock)
    watcher: asyncio.Task[None] | None = None
    if sleep is None:
        nudge = watching.Nudge()
        sleep = nudge.sleep
        if watching.watches(settings):
            watcher = asyncio.create_task(watching.watch_forever(settings, store, nudge))
    try:
        await supervise("sync", store, round_, backoff=Backoff(RETRY), clock=clock, sleep=sleep)
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)


async def advance_forever(
    settings: Settings, store: Store, *, clock: Clock = utcnow, sleep: Sleep = asyncio.sleep
) -> None:
    """Draft due campaign follow-ups every ``sync.interval_minutes`` until cancelled."""
    round_ = partial(advance_round, settings, store, clock)
    await supervise("scheduler", store, round_, backoff=Backoff(RETRY), clock=clock, sleep=sleep)


def serve_jobs(settings: Settings, store: Store, *, clock: Clock = utcnow) -> list[Job]:
    """The loops `serve` runs beside the web UI, each until the server stops.

    The sender sends approved mail as pacing allows; the campaign scheduler drafts due
    follow-ups into the queue; the inbox sync runs every ``sync.interval_minutes`` when a
    mailbox is configured (and starts the IMAP IDLE watcher, ``outreach.jobs.watching``, when
    the server offers it); the retention job runs once a day when ``privacy.retain_months``
    is set.
    """
    jobs: list[Job] = [
        lambda: send_forever(settings, store, clock=clock),
        lambda: advance_forever(settings, store, clock=clock),
    ]
    if settings.imap.host or settings.imap.maildir:
        jobs.append(lambda: sync_forever(settings, store, clock=clock))
    if settings.privacy.retain_months:
        jobs.append(lambda: retention_forever(settings, store, clock=clock))
    return jobs


async def retention_round(settings: Settings, store: Store, clock: Clock) -> Round:
    """Erase the people whose data has been kept for privacy.retain_months without activity."""
    months = settings.privacy.retain_months
    due = await asyncio.to_thread(partial(retention.expire, store, months, clock()))
    if due:
        log.info("erased %d people after %d months without activity", len(due), months)
    return Round(DAY, f"erased {len(due)}")


async def retention_forever(
    settings: Settings, store: Store, *, clock: Clock = utcnow, sleep: Sleep = asyncio.sleep
) -> None:
    """Apply the retention period once a day until cancelled."""
    round_ = partial(retention_round, settings, store, clock)
    await supervise("retention", store, round_, backoff=Backoff(RETRY), clock=clock, sleep=sleep)
