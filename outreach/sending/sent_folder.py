"""The sender's use of the mailbox: settle uncertain sends from the Sent folder, file Sent
copies when the server does not, look for a candidate's answer just before a follow-up, and
look for a message in the Sent folder before sending it when the store may be older than the
mailbox (restored from a backup).

imapclient blocks: the sender runs these in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.config import Clock, Settings
from outreach.errors import OutreachError
from outreach.sending import outbox as sending
from outreach.servers.configured import mailbox_name, open_mailbox
from outreach.servers.mailbox import Mailbox
from outreach.store import Store
from outreach.store.models import Draft, OutboxEntry, SyncState

MailboxFactory = Callable[[], Mailbox]
SELF_FILING = ("gmail", "googlemail", "outlook", "office365", "icloud", "zoho")


def server_files_sent(settings: Settings) -> bool:
    """Whether the provider files a Sent copy itself (Gmail, Microsoft 365, iCloud, Zoho)."""
    for host in (settings.smtp.host, settings.imap.host):
        labels = host.lower().rstrip(".").split(".")
        if any(name in labels for name in SELF_FILING) or host.lower().endswith("mail.me.com"):
            return True
    return False


def imap_factory(settings: Settings) -> MailboxFactory | None:
    """Open the mailbox of config.toml's [imap] (server or Maildir), or None when there is none."""
    if not (settings.imap.host or settings.imap.maildir):
        return None
    return lambda: open_mailbox(settings)


def check_sent_folder(
    store: Store, mailbox: str, factory: MailboxFactory, *, clock: Clock, actor: str
) -> tuple[list[int], str | None]:
    """Mark sent the uncertain messages whose exact Message-ID is in the Sent folder.

    Returns their outbox ids, and a warning when the folder could not be read.
    """
    if not _uncertain(store, mailbox):
        return [], None
    try:
        with factory() as box:
            return settle_uncertain(store, mailbox, box, clock=clock, actor=actor), None
    except OutreachError as exc:
        return [], f"could not check the Sent folder: {exc}"


def _uncertain(store: Store, mailbox: str) -> list[tuple[int, str]]:
    with store.read() as session:
        rows = session.execute(
            select(OutboxEntry.id, OutboxEntry.message_id).where(
                OutboxEntry.mailbox == mailbox, OutboxEntry.state == sending.UNCERTAIN
            )
        ).all()
    return [(row.id, row.message_id) for row in rows]


def settle_uncertain(
    store: Store, mailbox: str, box: Mailbox, *, clock: Clock, actor: str
) -> list[int]:
    """``check_sent_folder`` on an open mailbox (the sync's); raises what the mailbox raises."""
    rows = _uncertain(store, mailbox)
    if not rows:
        return []
    found = search_sent(box, rows)
    with store.session() as session:
        for entry_id in found:
            sending.found_in_sent_folder(session, entry_id, now=clock(), actor=actor)
    return found


def search_sent(box: Mailbox, rows: Sequence[tuple[int, str]]) -> list[int]:
    """The ids of the (id, Message-ID) rows whose message is in the Sent folder."""
    folder = box.sent_folder() or "Sent"
    return [entry_id for entry_id, message_id in rows if box.search_message_id(folder, message_id)]


def sent_already(
    factory: MailboxFactory, rows: Sequence[tuple[int, str]]
) -> tuple[list[int], str | None]:
    """Which (id, Message-ID) rows are in the Sent folder; a warning when it cannot be read."""
    try:
        with factory() as box:
            return search_sent(box, rows), None
    except OutreachError as exc:
        return [], (
            f"could not look in the Sent folder before sending ({exc}); {len(rows)} messages "
            "approved before the last sync wait for a run that can"
        )


def last_sync(session: Session, settings: Settings) -> datetime | None:
    """When the sync last finished reading the configured mailbox, if it ever did."""
    return session.scalar(
        select(func.max(SyncState.last_run_at)).where(SyncState.mailbox == mailbox_name(settings))
    )


def approved_before_last_sync(
    session: Session, settings: Settings, ids: Sequence[int]
) -> list[tuple[int, str]]:
    """Of these queued rows, those approved before the last sync: (id, Message-ID) each.

    A store restored from a backup may not know that these went out since; the Sent folder
    does. Rows approved after the last sync are new to the mailbox too: nothing to ask.
    """
    synced = last_sync(session, settings)
    if synced is None or not ids:
        return []
    rows = session.execute(
        select(OutboxEntry.id, OutboxEntry.message_id)
        .join(Draft, Draft.id == OutboxEntry.draft_id)
        .where(
            OutboxEntry.id.in_(list(ids)),
            OutboxEntry.state == sending.QUEUED,
            Draft.approved_at < synced,
        )
    ).all()
    return [(row.id, row.message_id) for row in rows]


def file_sent_copies(
    store: Store, settings: Settings, factory: MailboxFactory
) -> tuple[int, str | None]:
    """APPEND sent messages to the Sent folder unless the server does; search first.

    Returns how many were filed, and a warning when the folder could not be written.
    """
    filed = 0
    policy = settings.imap.append_sent
    if policy == "never" or (policy == "auto" and server_files_sent(settings)):
        return 0, None
    with store.session() as session:
        rows = session.execute(
            select(OutboxEntry.id, OutboxEntry.message_id, OutboxEntry.raw).where(
                OutboxEntry.mailbox == settings.sender.email,
                OutboxEntry.state == sending.SENT,
                OutboxEntry.filed_sent.is_(False),
            )
        ).all()
    if not rows:
        return 0, None
    try:
        with factory() as box:
            folder = box.sent_folder() or "Sent"
            for row in rows:
                if not box.search_message_id(folder, row.message_id):
                    box.append(folder, row.raw)
                    filed += 1
                with store.session() as session:
                    entry = session.get(OutboxEntry, row.id)
                    if entry is not None:
                        entry.filed_sent = True
    except OutreachError as exc:
        return filed, f"could not file copies in the Sent folder: {exc}"
    return filed, None


def answered_since(
    factory: MailboxFactory, checks: Sequence[tuple[int, str, datetime]]
) -> dict[int, str]:
    """Which follow-ups' candidates wrote to us since our last message (an IMAP search each)."""
    answered: dict[int, str] = {}
    with factory() as box:
        for entry_id, address, since in checks:
            if box.search_from("INBOX", address, since.date()):
                answered[entry_id] = (
                    f"{address} wrote since {since:%Y-%m-%d}: follow-up cancelled before sending "
                    "(run `outreach sync` to see the reply)"
                )
    return answered
