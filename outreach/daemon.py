"""The loops `outreach serve` runs beside the web UI: the sender and the campaign scheduler.

Each loop runs until it is cancelled, logs a failed round and tries again later, and never
holds a database session across a wait. The sender goes through the same core functions as
`outreach send` (approval check, suppression, pacing, the mailbox lock), so two senders, one
here and one from cron, still send each message once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from . import followups
from .config import Settings
from .drafting import Drafter, make_llm
from .errors import OutreachError
from .sender import run_sender
from .sent_folder import imap_factory
from .store import Store
from .store.models import utcnow

log = logging.getLogger("outreach.daemon")
Sleep = Callable[[float], Awaitable[None]]
IDLE = 60.0  # seconds between looks at the outbox when nothing is scheduled
SHORTEST = 5.0


async def send_forever(
    settings: Settings,
    store: Store,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Send what is approved and due, then sleep until the next paced slot; until cancelled."""
    while True:
        wait = IDLE
        try:
            report = await run_sender(
                store, settings, clock=clock, mailbox_factory=imap_factory(settings)
            )
            if report.sent or report.failed or report.uncertain:
                log.info(
                    "sent %d, failed %d, uncertain %d",
                    len(report.sent),
                    len(report.failed),
                    len(report.uncertain),
                )
            if report.next_slot is not None:
                ahead = (report.next_slot.at - clock()).total_seconds()
                wait = min(max(ahead, SHORTEST), IDLE)
        except OutreachError as exc:  # another sender holds the mailbox, the server is down…
            log.warning("sending paused this round: %s", exc)
        await sleep(wait)


async def advance_forever(
    settings: Settings,
    store: Store,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Draft due campaign follow-ups into the queue every ``sync.interval_minutes``."""
    while True:
        drafter = Drafter(settings, store, llm=make_llm(settings))
        try:
            report = await followups.advance(store, settings, drafter, now=clock())
            if report.drafted:
                log.info("drafted %d follow-ups for review", report.drafted)
        except OutreachError as exc:
            log.warning("campaign advance failed: %s", exc)
        finally:
            await drafter.aclose()
        await sleep(settings.sync.interval_minutes * 60)
