"""One sender per mailbox: a lock that the operating system or the database drops on a crash.

SQLite: an ``fcntl`` lock on a file beside the database (``outreach.db.send-<hash>.lock``).
PostgreSQL: a session-level ``pg_try_advisory_lock`` on a dedicated connection, keyed by the
schema and the mailbox. Both are released when the process dies, even by SIGKILL, so a
crashed sender never blocks the next one. The conditional claim (``outbox.claim``) is a
second guard: a row moves from ``queued`` to ``sending`` exactly once whatever the lock says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from outreach.errors import StateError
from outreach.store import Store
from outreach.store.locks import exclusive


class LockBusy(StateError):
    """Another sender holds the mailbox."""


@contextmanager
def mailbox_lock(store: Store, mailbox: str, *, patience: float = 5.0) -> Iterator[None]:
    """Hold the sender lock of a mailbox; LockBusy when another still holds it after a while.

    The short patience covers a sender that just died: the kernel drops a file lock at once,
    but PostgreSQL frees an advisory lock only when the backend notices the lost connection.
    """
    busy = LockBusy(
        f"another `outreach send` is already sending from {mailbox}; it will send these"
    )
    with exclusive(store, "send", mailbox, busy, patience=patience):
        yield
