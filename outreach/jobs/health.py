"""Health of the background loops `outreach serve` runs, kept in the store for any process.

One row per component (the sender, the inbox sync, its IDLE watcher, the campaign scheduler):
what its last
good round did and when, the last failure with its error and since when it has been failing,
and when it tries next. A loop that fails is unhealthy until a round succeeds again; so is a
loop whose `serve` process ended without stopping it (killed, out of memory). The web UI shows
a line for each unhealthy component on every page; `outreach status` prints every component.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from outreach.errors import OutreachError
from outreach.store import Store
from outreach.store.models import Health

COMPONENTS = ("sender", "sync", "watch", "scheduler")
OK, FAILING, STOPPED = "ok", "failing", "stopped"
GONE, NEVER = "gone", "never run"  # derived: the row's owner died; no row yet
WHERE = "`outreach serve`"


@dataclass(frozen=True)
class Status:
    """One component as `outreach status` and the web UI show it."""

    component: str
    state: str  # ok | failing | stopped | gone | never run
    healthy: bool
    line: str
    error: str = ""
    last_success_at: datetime | None = None
    failing_since: datetime | None = None
    next_try_at: datetime | None = None

    @property
    def label(self) -> str:
        """A few words for the strip on every page: "sync ok", "watch live", "sender failing"."""
        if self.state == OK and self.component == "watch":
            return "watch: polling" if "polling" in self.line else "watch live (IDLE)"
        words = {OK: "ok", FAILING: "failing", STOPPED: "stopped", GONE: "not running"}
        return f"{self.component} {words.get(self.state, 'not run yet')}"

    def as_dict(self) -> dict[str, object]:
        """The fields as JSON-ready values (times in ISO 8601)."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }


def owner() -> str:
    """This process, as a row names the process running its loop."""
    return f"{socket.gethostname()}:{os.getpid()}"


def describe(exc: BaseException) -> str:
    """A one-line error for people: no SQL, no parameters, no traceback."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = str(exc.orig)  # "database is locked", not the statement and its values
    elif isinstance(exc, OutreachError):
        return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
    else:
        text = str(exc)
    first = (text.strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


def _row(session: Session, component: str, now: datetime) -> Health:
    row = session.get(Health, component)
    if row is None:
        row = Health(component=component, state=OK, failures=0, updated_at=now)
        session.add(row)
    return row


def record_started(store: Store, component: str, *, now: datetime) -> None:
    """A loop starts in this process: it owns the row now (a dead server's row is no news)."""
    with store.session() as session:
        row = _row(session, component, now)
        if row.state == STOPPED or row.last_success_at is None and row.state == OK:
            row.state, row.detail = OK, "starting"
        row.owner, row.updated_at = owner(), now


def record_success(
    store: Store, component: str, *, now: datetime, next_try: datetime | None, detail: str = ""
) -> None:
    """A round went well: healthy again, whatever failed before."""
    with store.session() as session:
        row = _row(session, component, now)
        row.state, row.owner, row.detail, row.failures = OK, owner(), detail, 0
        row.last_success_at, row.failing_since, row.next_try_at = now, None, next_try
        row.updated_at = now


def record_failure(
    store: Store, component: str, error: str, *, now: datetime, next_try: datetime | None
) -> None:
    """A round failed: note the error, since when it fails, and when it tries again."""
    with store.session() as session:
        row = _row(session, component, now)
        if row.state != FAILING or row.failing_since is None:
            row.failing_since = now
        row.state, row.owner, row.error = FAILING, owner(), error
        row.failures = (row.failures or 0) + 1
        row.last_failure_at, row.next_try_at, row.updated_at = now, next_try, now


def record_stopped(store: Store, component: str, *, now: datetime) -> None:
    """The loop was stopped on purpose (the server shut down)."""
    with store.session() as session:
        row = _row(session, component, now)
        row.state, row.next_try_at, row.updated_at = STOPPED, None, now


def _alive(row_owner: str) -> bool:
    """Whether the process named by ``owner()`` still runs (unknown elsewhere: assume so)."""
    host, _, pid = row_owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def ago(then: datetime, now: datetime) -> str:
    """'4 min ago', 'just now'."""
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return "just now" if seconds < 5 else f"{seconds} s ago"
    return f"{_span(seconds)} ago"


def until(then: datetime, now: datetime) -> str:
    """'in 30 s', 'now'."""
    seconds = math.ceil((then - now).total_seconds())
    return "now" if seconds <= 0 else f"in {_span(seconds) if seconds >= 60 else f'{seconds} s'}"


def _span(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _status(component: str, row: Health | None, now: datetime) -> Status:
    if row is None:
        return Status(component, NEVER, True, f"{component}: no run yet (it runs in {WHERE})")
    times = {
        "last_success_at": row.last_success_at,
        "failing_since": row.failing_since,
        "next_try_at": row.next_try_at,
    }
    if row.state == STOPPED:
        line = f"{component} not running: {WHERE} stopped {ago(row.updated_at, now)}"
        return Status(component, STOPPED, True, line, row.error, **times)
    if not _alive(row.owner):
        line = (
            f"{component} not running: the {WHERE} process that ran it ({row.owner}) ended "
            f"without stopping it; last heard of {ago(row.updated_at, now)}"
        )
        return Status(component, GONE, False, line, row.error, **times)
    retry = f"retrying {until(row.next_try_at, now)}" if row.next_try_at else "retrying"
    if row.state == FAILING and row.failing_since is not None:
        failures = f" ({row.failures} failures in a row)" if row.failures > 1 else ""
        line = f"{component} stopped {ago(row.failing_since, now)}: {row.error}; {retry}{failures}"
        return Status(component, FAILING, False, line, row.error, **times)
    line = f"{component} ok"
    if row.last_success_at is not None:
        line += f": last run {ago(row.last_success_at, now)}"
    if row.detail:
        line += f" ({row.detail})"
    if row.next_try_at is not None:
        line += f"; next {until(row.next_try_at, now)}"
    return Status(component, OK, True, line, row.error, **times)


def statuses(store: Store, *, now: datetime) -> list[Status]:
    """Every component's status, in a fixed order."""
    with store.read() as session:
        rows = {row.component: row for row in session.scalars(select(Health))}
    return [_status(name, rows.get(name), now) for name in COMPONENTS]


def problems(store: Store, *, now: datetime) -> list[str]:
    """The lines of the unhealthy components (what every web page shows)."""
    return [status.line for status in statuses(store, now=now) if not status.healthy]
