"""The sender shares the store with other writers (the web UI, a second process): it waits for
their write locks instead of failing, and what it sends is always what was approved."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import create_engine, select, text

from outreach.errors import StateError
from outreach.review import approval, queue
from outreach.sending.sender import run_sender
from outreach.store import Store, open_store
from outreach.store.models import OutboxEntry, Revision, utcnow
from tests import outbox_kit as kit
from tests.services import smtp as services
from tests.services.smtp import CaptureServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory
HOLD = 3.0  # seconds another connection keeps the write lock: well inside the busy timeout


@contextmanager
def write_lock_held_elsewhere(
    store: Store, db_url: str, seconds: float, on_release: list[int], capture: CaptureServer
) -> Iterator[None]:
    """Another connection takes the store's write lock and keeps it for a while.

    SQLite: a transaction that has written. PostgreSQL: the outbox locked against writers.
    Just before letting go, it notes how many messages had arrived at the SMTP server.
    """
    held = threading.Event()

    def hold() -> None:
        if store.engine.dialect.name == "sqlite":
            connection = sqlite3.connect(store.engine.url.database or "", isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE meta SET value = value")
            held.set()
            threading.Event().wait(seconds)
            on_release.append(len(capture.messages))
            connection.execute("COMMIT")
            connection.close()
            return
        engine = create_engine(db_url)
        with engine.begin() as pg:
            pg.execute(text("LOCK TABLE outbox IN EXCLUSIVE MODE"))  # reads go on, writes wait
            held.set()
            threading.Event().wait(seconds)
            on_release.append(len(capture.messages))
        engine.dispose()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    try:
        yield
    finally:
        thread.join()


async def test_the_sender_waits_for_a_write_lock_held_elsewhere(
    store: Store, db_url: str, smtp_capture: CaptureServer
) -> None:
    drafts = kit.add_drafts(store, 5)
    on_release: list[int] = []
    with write_lock_held_elsewhere(store, db_url, HOLD, on_release, smtp_capture):
        report = await run_sender(store, kit.settings(smtp_capture.port), clock=utcnow)
    assert on_release == [0]  # nothing went out while the lock was held...
    assert len(report.sent) == 5 and report.warnings == []  # ...and then everything did
    assert kit.states(store) == {draft: "sent" for draft in drafts}
    assert len(smtp_capture.messages) == 5


def test_approving_and_editing_while_the_sender_runs(
    store: Store, db_url: str, smtp_capture: CaptureServer
) -> None:
    """A reviewer approves and edits (in another process's store) while rounds of sending go.

    No round fails, nothing arrives twice, and every message that arrives carries the exact
    text of an approval: an edit withdraws it before freezing, or comes too late to matter.
    """
    drafts = kit.add_drafts(store, 30, approve=False)
    stop = threading.Event()
    refused: Counter[str] = Counter()

    def reviewer() -> None:
        other = open_store(db_url)  # its own engine and connections, as `serve` would have
        edits = 0
        try:
            while not stop.is_set():
                for draft_id in drafts:
                    edits += 1
                    try:
                        with other.session() as session:
                            draft = queue.get_draft(session, draft_id)
                            if draft.status == queue.PENDING:
                                message_id = f"<d{draft_id}@nordlys.example>"
                                queue.approve(session, draft, actor="lena", message_id=message_id)
                            elif draft.status == queue.APPROVED:
                                queue.add_revision(
                                    session, draft, subject="A backend role at Nordlys",
                                    body=f"Hi,\n\nEdit {edits}.\n\nMaria", author="lena",
                                    actor="lena",
                                )  # fmt: skip
                    except StateError:  # frozen or sent meanwhile: a person would see why
                        refused["state"] += 1
        finally:
            other.close()

    thread = threading.Thread(target=reviewer)
    thread.start()
    try:
        for _ in range(15):
            asyncio.run(run_sender(store, kit.settings(smtp_capture.port), clock=utcnow))
    finally:
        stop.set()
        thread.join()
    arrived = Counter(kit.message_ids([m.data for m in smtp_capture.messages]))
    assert arrived and max(arrived.values()) == 1
    with store.read() as session:
        entries = {e.message_id: e for e in session.scalars(select(OutboxEntry))}
        for received in smtp_capture.messages:
            mail = kit.parse(received.data)
            entry = entries[str(mail["Message-ID"])]
            assert entry.state == "sent"
            body = mail.get_content().replace("\r\n", "\n").rstrip("\n")
            texts = session.scalars(select(Revision).where(Revision.draft_id == entry.draft_id))
            seen = approval.visible_of(session, queue.get_draft(session, entry.draft_id))
            approved = [
                r
                for r in texts
                if approval.fingerprint(replace(seen, subject=r.subject, body=r.body))
                == entry.approved_hash
            ]
            assert [r.body.rstrip("\n") for r in approved] == [body]
