"""The IDLE watcher beside the sync loop: new mail wakes the sync within a second or two.

``outreach.inbox.watch.Watcher`` runs in a worker thread (imapclient blocks) on its own
connection; when the server reports new mail it pokes a ``Nudge``, which the sync loop sleeps
on instead of a plain ``asyncio.sleep``: the loop wakes at once, or after
``sync.interval_minutes`` as before. A poke while a sync runs is kept, so mail that arrives
during a run is read by the next one straight away. The watcher's health is the `watch`
component of ``outreach.jobs.health``; cancelling ``watch_forever`` (the server stops) asks
the thread to stop and waits for it, which takes at most a second.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from outreach.config import Settings
from outreach.inbox.watch import Timing, Watcher
from outreach.jobs import health
from outreach.servers.configured import open_mailbox
from outreach.store import Store
from outreach.store.models import utcnow

log = logging.getLogger(__name__)
COMPONENT = "watch"


class Nudge:
    """An event the sync loop sleeps on, set from any thread."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def poke(self) -> None:
        """Wake the sleeper now (thread-safe)."""
        self._loop.call_soon_threadsafe(self._event.set)

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when poked (also by a poke since the last sleep)."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            pass
        self._event.clear()


class _Health:
    """The watcher's reports, written as the `watch` component's health."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def ok(self, detail: str) -> None:
        self._write(partial(health.record_success, detail=detail, next_try=None))

    def failed(self, error: str, retry_in: float) -> None:
        later = utcnow() + timedelta(seconds=retry_in)
        self._write(partial(health.record_failure, error=error, next_try=later))

    def _write(self, record: Callable[..., None]) -> None:
        try:
            record(self._store, COMPONENT, now=utcnow())
        except Exception:  # the store refused: logged, never fatal to the watcher
            log.exception("watch: could not record its health in the store")


def timing(settings: Settings) -> Timing:
    """The watcher's timing from ``[sync]``."""
    return Timing(
        renew=settings.sync.idle_renew_minutes * 60.0,
        quiet=float(settings.sync.idle_quiet_seconds),
    )


def watches(settings: Settings) -> bool:
    """Whether `serve` keeps an IDLE connection: an IMAP mailbox and folders to watch."""
    return bool(settings.imap.host and not settings.imap.maildir and settings.sync.idle_folders)


async def watch_forever(settings: Settings, store: Store, nudge: Nudge) -> None:
    """Run one watcher thread per folder of ``sync.idle_folders`` until cancelled."""
    stop = threading.Event()
    report = _Health(store)
    try:
        await asyncio.to_thread(partial(health.record_started, store, COMPONENT, now=utcnow()))
    except Exception:  # the store refused: logged; watching matters more
        log.exception("watch: could not record its health in the store")
    watchers = [
        Watcher(partial(open_mailbox, settings), folder, nudge.poke, stop, report,
                timing=timing(settings))
        for folder in settings.sync.idle_folders
    ]  # fmt: skip
    threads = [
        threading.Thread(target=w.run, name=f"outreach-watch-{w.folder}", daemon=True)
        for w in watchers
    ]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            await asyncio.sleep(1.0)
        await asyncio.Event().wait()  # no IDLE here: the health line says "polling"; wait
    finally:
        stop.set()
        await asyncio.to_thread(_join, threads)
        try:
            await asyncio.to_thread(health.record_stopped, store, COMPONENT, now=utcnow())
        except Exception:
            log.exception("watch: could not note that it stopped")


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=35.0)  # at most one IMAP timeout, when a DONE hangs
