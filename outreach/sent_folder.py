"""The sender's use of the mailbox: settle uncertain sends from the Sent folder, file Sent
copies when the server does not, and look for a candidate's answer just before a follow-up.

imapclient blocks: the sender runs these in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select

from . import sending
from .config import Settings
from .errors import OutreachError
from .inbox.mailbox import Mailbox
from .store import Store
from .store.models import OutboxEntry

Clock = Callable[[], datetime]
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
    from .inbox.sync import open_mailbox  # the sync's own way in, XOAUTH2 and Maildir included

    return lambda: open_mailbox(settings)


def check_sent_folder(
    store: Store, mailbox: str, factory: MailboxFactory, *, clock: Clock, actor: str
) -> tuple[list[int], str | None]:
    """Mark sent the uncertain messages whose exact Message-ID is in the Sent folder.

    Returns their outbox ids, and a warning when the folder could not be read.
    """
    with store.session() as session:
        rows = session.execute(
            select(OutboxEntry.id, OutboxEntry.message_id).where(
                OutboxEntry.mailbox == mailbox, OutboxEntry.state == sending.UNCERTAIN
            )
        ).all()
    if not rows:
        return [], None
    try:
        with factory() as box:
            folder = box.sent_folder() or "Sent"
            found = [row.id for row in rows if box.search_message_id(folder, row.message_id)]
    except OutreachError as exc:
        return [], f"could not check the Sent folder: {exc}"
    with store.session() as session:
        for entry_id in found:
            sending.found_in_sent_folder(session, entry_id, now=clock(), actor=actor)
    return found, None


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
