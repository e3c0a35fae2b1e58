"""Near real time: an IMAP IDLE connection that wakes the sync as soon as mail arrives.

The watcher keeps its own connection to one folder (INBOX by default, see
``sync.idle_folders``) in IDLE (RFC 2177) and calls ``changed`` whenever the server reports a
new message; the sync itself still runs in the sync loop, with its lock, so the watcher never
reads or stores mail. imapclient is synchronous, so ``Watcher.run`` is a worker thread's body;
``outreach.jobs.watching`` runs it beside the sync loop of `outreach serve`.

What keeps the connection honest:

- Servers end IDLE after 30 minutes (RFC 2177 says clients re-issue it within 29), and NATs
  forget quiet connections: the watcher leaves and re-enters IDLE every
  ``sync.idle_renew_minutes`` (25).
- A connection can die silently (a NAT or a firewall dropped it): when the server has said
  nothing for ``sync.idle_quiet_seconds`` the watcher leaves IDLE and sends NOOP; a dead
  connection fails there within the IMAP timeout, and the watcher reconnects.
- A connection the server closes or restarts (BYE, EOF) fails at once; the watcher reconnects
  after 1 s, doubling up to a minute while the server stays away, and asks the sync to run
  after every (re)connection, to catch what arrived meanwhile.
- A server without IDLE (or a Maildir) is not watched: the sync loop's polling interval
  (``sync.interval_minutes``) is what remains, and the health line says so.

Waiting is done in slices of ``TICK`` seconds, so a stop request is seen within a second;
between slices the thread sleeps in ``select``, which costs no CPU while nothing happens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from outreach.errors import OutreachError, SyncError
from outreach.servers.mailbox import Mailbox

log = logging.getLogger(__name__)
TICK = 1.0  # seconds per wait slice: how soon a stop request is seen
FIRST_RETRY, LAST_RETRY = 1.0, 60.0  # reconnection backoff, in seconds
NEWS = (b"EXISTS", b"RECENT", b"EXPUNGE")  # what makes the sync run (FETCH: flags only)


class Idling(Protocol):
    """A mailbox that can wait in IDLE (``outreach.servers.imap.ImapMailbox``)."""

    def idle_supported(self) -> bool: ...
    def idle_start(self, folder: str) -> None: ...
    def idle_poll(self, timeout: float) -> list[tuple[Any, ...]]: ...
    def idle_end(self) -> None: ...
    def noop(self) -> None: ...


@dataclass(frozen=True)
class Timing:
    """When to renew IDLE, when to probe a quiet connection (seconds)."""

    renew: float = 25 * 60.0
    quiet: float = 300.0
    tick: float = TICK


class Report(Protocol):
    """Where the watcher tells how it is doing (the health of the `watch` component)."""

    def ok(self, detail: str) -> None: ...
    def failed(self, error: str, retry_in: float) -> None: ...


class Watcher:
    """Keep one folder in IDLE and call ``changed`` when new mail arrives; until ``stop``."""

    def __init__(
        self,
        open_mailbox: Callable[[], Mailbox],
        folder: str,
        changed: Callable[[], None],
        stop: threading.Event,
        report: Report,
        *,
        timing: Timing = Timing(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open, self.folder, self._changed = open_mailbox, folder, changed
        self._stop, self._report, self._timing, self._clock = stop, report, timing, clock
        self.connections = 0  # how many times it connected (1 + reconnections)

    def run(self) -> None:
        """Watch until stopped; reconnect after any failure, with a growing wait."""
        failures = 0
        while not self._stop.is_set():
            try:
                box = self._open()
            except OutreachError as exc:
                failures += 1
                self._retry(str(exc), failures)
                continue
            try:
                if not _can_idle(box):
                    self._report.ok(f"{self.folder}: the server does not offer IDLE; polling")
                    return
                self.connections += 1
                failures = 0
                self._watch(box)
            except OutreachError as exc:
                failures += 1
                self._retry(str(exc), failures)
            except Exception as exc:  # a bug must not end the watching: logged, retried
                log.exception("watch %s: unexpected error", self.folder)
                failures += 1
                self._retry(f"{type(exc).__name__}: {exc}", failures)
            finally:
                box.close()

    def _retry(self, error: str, failures: int) -> None:
        wait = min(LAST_RETRY, FIRST_RETRY * 2.0 ** (failures - 1))
        log.warning("watch %s: %s; reconnecting in %.0f s", self.folder, error, wait)
        self._report.failed(error, wait)
        self._stop.wait(wait)

    def _watch(self, box: Any) -> None:
        """One connection's life: IDLE, renewed and probed, until stopped or it fails."""
        timing, clock = self._timing, self._clock
        box.idle_start(self.folder)
        since = heard = clock()
        self._changed()  # what arrived while we were not connected
        self._report.ok(f"IDLE on {self.folder}")
        try:
            while not self._stop.is_set():
                responses = box.idle_poll(timing.tick)
                now = clock()
                if responses:
                    heard = now
                    if any(len(r) > 1 and r[1] in NEWS for r in responses):
                        self._changed()
                        self._report.ok(f"IDLE on {self.folder}")
                if now - since >= timing.renew:
                    box.idle_end()
                    box.idle_start(self.folder)
                    since = heard = clock()
                    self._report.ok(f"IDLE on {self.folder}")
                elif now - heard >= timing.quiet:
                    box.idle_end()  # a silently dead connection fails here or at the NOOP
                    box.noop()
                    box.idle_start(self.folder)
                    since = heard = clock()
        finally:
            if self._stop.is_set():
                try:
                    box.idle_end()
                except SyncError:
                    pass  # stopping anyway


def _can_idle(box: Mailbox) -> bool:
    supported = getattr(box, "idle_supported", None)
    return bool(supported is not None and supported())
