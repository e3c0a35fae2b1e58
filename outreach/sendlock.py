"""One sender per mailbox: a lock that the operating system or the database drops on a crash.

SQLite: an ``fcntl`` lock on a file beside the database (``outreach.db.send-<hash>.lock``).
PostgreSQL: a session-level ``pg_try_advisory_lock`` on a dedicated connection, keyed by the
schema and the mailbox. Both are released when the process dies, even by SIGKILL, so a
crashed sender never blocks the next one. The conditional claim in ``sending`` is a second
guard: a row moves from ``queued`` to ``sending`` exactly once whatever the lock says.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from .errors import StateError
from .store import Store

POLL = 0.05  # seconds between two tries of a held lock


class LockBusy(StateError):
    """Another sender holds the mailbox."""


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _key(*parts: str) -> int:
    digest = hashlib.sha256("\x00".join(("outreach.send", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_path(database: str, mailbox: str) -> Path:
    """The lock file of a mailbox beside a SQLite database file."""
    tag = hashlib.sha256(mailbox.encode()).hexdigest()[:12]
    return Path(f"{database}.send-{tag}.lock")


@contextmanager
def mailbox_lock(store: Store, mailbox: str, *, patience: float = 5.0) -> Iterator[None]:
    """Hold the sender lock of a mailbox; LockBusy when another still holds it after a while.

    The short patience covers a sender that just died: the kernel drops a file lock at once,
    but PostgreSQL frees an advisory lock only when the backend notices the lost connection.
    """
    url = make_url(str(store.engine.url))
    deadline = time.monotonic() + patience
    busy = LockBusy(
        f"another `outreach send` is already sending from {mailbox}; it will send these"
    )
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = lock_path(url.database, mailbox)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while not _try_flock(fd):
                if time.monotonic() > deadline:
                    raise busy
                time.sleep(POLL)
            yield
        finally:
            os.close(fd)  # closing the descriptor drops the lock
        return
    if url.get_backend_name() == "postgresql":
        with store.engine.connect() as connection:
            schema = str(connection.scalar(text("select current_schema()")))
            key = _key(schema, mailbox)
            while not connection.scalar(text("select pg_try_advisory_lock(:k)"), {"k": key}):
                if time.monotonic() > deadline:
                    raise busy
                connection.rollback()
                time.sleep(POLL)
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
        return
    yield  # an in-memory database lives in one process: nothing to share
