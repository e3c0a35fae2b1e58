"""Named locks shared by every process using one store, dropped by the OS when a process dies.

SQLite: an ``fcntl`` lock on a file beside the database (``outreach.db.<kind>-<hash>.lock``).
PostgreSQL: a session-level ``pg_try_advisory_lock`` on a dedicated connection, keyed by the
schema, the kind and the name. Both are released when the process dies, even by SIGKILL, so a
crashed sender or sync never blocks the next one.
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

from outreach.store.engine import Store

POLL = 0.05  # seconds between two tries of a held lock


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _key(*parts: str) -> int:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_path(database: str, kind: str, name: str) -> Path:
    """The lock file for (kind, name) beside a SQLite database file."""
    tag = hashlib.sha256(name.encode()).hexdigest()[:12]
    return Path(f"{database}.{kind}-{tag}.lock")


@contextmanager
def exclusive(
    store: Store, kind: str, name: str, busy: Exception, *, patience: float = 0.0
) -> Iterator[None]:
    """Hold the lock (kind, name) for the block; raise `busy` if another holder keeps it.

    `patience` waits that long first: a holder that just died frees a file lock at once, but
    PostgreSQL frees an advisory lock only when it notices the lost connection.
    """
    url = make_url(str(store.engine.url))
    deadline = time.monotonic() + patience
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        fd = os.open(lock_path(url.database, kind, name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while not _try_flock(fd):
                if time.monotonic() >= deadline:
                    raise busy
                time.sleep(POLL)
            yield
        finally:
            os.close(fd)  # closing the descriptor drops the lock
        return
    if url.get_backend_name() == "postgresql":
        with store.engine.connect() as connection:
            schema = str(connection.scalar(text("select current_schema()")))
            key = _key(f"outreach.{kind}", schema, name)
            while not connection.scalar(text("select pg_try_advisory_lock(:k)"), {"k": key}):
                if time.monotonic() >= deadline:
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
