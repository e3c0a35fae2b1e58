"""Helpers for the sending tests: settings for a loopback server, approved drafts in a store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from outreach.config import Settings, settings_from_dict
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Candidate, OutboxEntry

__all__ = ["OutboxEntry", "Settings"]

SENDER = "maria@nordlys.example"
MONDAY = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Stockholm; after any test ran


def settings(
    port: int = 2525,
    *,
    pacing: dict[str, Any] | None = None,
    imap: dict[str, Any] | None = None,
    database: str | None = None,
) -> Settings:
    """Settings for a plaintext SMTP server on loopback; pacing off unless given."""
    data: dict[str, Any] = {
        "sender": {"name": "Maria Berg", "email": SENDER, "timezone": "Europe/Stockholm"},
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout_seconds": 5},
        "pacing": pacing
        or {
            "working_hours": "always",
            "min_gap_seconds": 0,
            "jitter_seconds": 0,
            "daily_cap": 10**6,
        },
    }
    if imap is not None:
        data["imap"] = imap
    if database is not None:
        data["database"] = {"url": database}
    return settings_from_dict(data, path=Path("/nonexistent/config.toml"))


def add_candidate(store: Store, email: str, name: str = "Jamie Doe", timezone: str = "") -> int:
    with store.session() as session:
        candidate = session.scalar(select(Candidate).where(Candidate.email == email))
        if candidate is None:
            candidate = Candidate(email=email, name=name, timezone=timezone)
            session.add(candidate)
            session.flush()
        return candidate.id


def add_draft(
    store: Store,
    email: str = "jamie@example.com",
    *,
    name: str = "Jamie Doe",
    subject: str = "A backend role at Nordlys",
    body: str = "Hi Jamie,\n\nWould you like to talk?\n\nMaria",
    kind: str = "outreach",
    timezone: str = "",
    approve: bool = True,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> int:
    """A draft for the candidate (created if new), approved unless told otherwise."""
    candidate_id = add_candidate(store, email, name, timezone)
    with store.session() as session:
        draft = queue.create_draft(
            session,
            queue.NewDraft(
                candidate_id=candidate_id,
                kind=kind,
                template="intro",
                subject=subject,
                body=body,
                author="template",
                in_reply_to=in_reply_to,
                references=references,
            ),
        )
        if approve:
            queue.approve(session, draft, actor="maria", sender=SENDER)
        return draft.id


def add_drafts(store: Store, count: int, **kwargs: Any) -> list[int]:
    return [add_draft(store, f"cand{n}@example.com", **kwargs) for n in range(count)]


def states(store: Store) -> dict[int, str]:
    """Outbox state by draft id."""
    with store.session() as session:
        rows = session.execute(select(OutboxEntry.draft_id, OutboxEntry.state)).all()
    return {draft_id: state for draft_id, state in rows}


def entries(store: Store) -> list[OutboxEntry]:
    with store.session() as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def message_ids(raws: Sequence[bytes]) -> list[str]:
    return [str(parse(raw)["Message-ID"]) for raw in raws]


async def no_sleep(_seconds: float) -> None:
    """Retries happen at once: the backoff is the transport's, not what these tests check."""


def sender_process(db_url: str, port: int, batch_size: int) -> None:
    """A whole sender run, as a child process runs it (real clock, pacing off)."""
    import asyncio

    from outreach.sending.sender import run_sender
    from outreach.store import open_store
    from outreach.store.models import utcnow

    store = open_store(db_url)
    try:
        asyncio.run(run_sender(store, settings(port), clock=utcnow, batch_size=batch_size))
    finally:
        store.close()


CONFIG = """
[sender]
name = "Maria Berg"
email = "{sender}"
timezone = "Europe/Stockholm"

[database]
url = "{url}"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout_seconds = 5

[pacing]
daily_cap = 100000
min_gap_seconds = 0
jitter_seconds = 0
working_hours = "always"
"""


def write_config(folder: Path, port: int, url: str) -> Path:
    """A config.toml for `outreach send` in a child process: a loopback server, pacing off."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(CONFIG.format(sender=SENDER, url=url, port=port))
    return path
