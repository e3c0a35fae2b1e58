"""Read-only access to a recruiter's mailbox: the interface, with IMAP (imap.py) and Maildir
(maildir.py) behind it.

The sync reads folders without changing them: folders are selected with EXAMINE and messages are
fetched with ``BODY.PEEK`` (``RFC822`` would set ``\\Seen``). The only write is ``append()``,
used to file a copy of a sent message. imapclient is synchronous; the sync runs a mailbox in a
worker thread. Every network or server failure surfaces as a one-line ``SyncError``.

Bodies come back as ``FetchedBody``: a message larger than ``max_bytes`` is returned as its full
header plus the first ``max_bytes`` of its body, with ``truncated=True`` and ``size`` the size
of the whole message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.parser import BytesHeaderParser
from types import TracebackType
from typing import Protocol

HEADER_FIELDS = (
    "MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO CC DATE SUBJECT AUTO-SUBMITTED X-AUTOREPLY "
    "X-AUTORESPOND X-AUTO-RESPONSE-SUPPRESS PRECEDENCE LIST-ID LIST-UNSUBSCRIBE RETURN-PATH "
    "X-FAILED-RECIPIENTS CONTENT-TYPE"
).split()
UID_CHUNK = 500  # UIDs per command: well under Dovecot's 64 KiB command line


@dataclass(frozen=True)
class FolderState:
    """What EXAMINE reports about a folder."""

    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int | None
    exists: int


@dataclass(frozen=True)
class HeaderItem:
    """The cheap part of a message: the header fields in ``HEADER_FIELDS``, size and date."""

    uid: int
    size: int
    internaldate: datetime | None
    header_bytes: bytes


@dataclass(frozen=True)
class FetchedBody:
    """A message's raw bytes; when ``truncated``, only its header and the start of its body."""

    raw: bytes
    size: int
    truncated: bool


class Mailbox(Protocol):
    """A mailbox the sync reads from; implementations are ImapMailbox and MaildirMailbox."""

    def folders(self) -> list[str]:
        """Return the folders to sync: INBOX and Sent, or Gmail's All Mail alone."""
        ...

    def sent_folder(self) -> str | None:
        """Return the folder holding sent mail, if there is one."""
        ...

    def select(self, folder: str) -> FolderState:
        """Open a folder read-only and report its state."""
        ...

    def uids_after(self, folder: str, last_uid: int, since: date | None) -> list[int]:
        """Return the UIDs above ``last_uid`` (and, if given, received since ``since``)."""
        ...

    def fetch_headers(self, folder: str, uids: Sequence[int]) -> list[HeaderItem]:
        """Fetch the header fields, size and internal date of messages, in UID order."""
        ...

    def fetch_bodies(
        self, folder: str, uids: Sequence[int], max_bytes: int
    ) -> dict[int, FetchedBody]:
        """Fetch whole messages, truncating those larger than ``max_bytes``."""
        ...

    def search_message_id(self, folder: str, message_id: str) -> list[int]:
        """Return the UIDs of messages whose Message-ID is exactly ``message_id``."""
        ...

    def search_from(self, folder: str, address: str, since: date) -> list[int]:
        """UIDs of messages from `address` on or after `since` (the pre-send reply check)."""
        ...

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Sequence[str] = ("\\Seen",),
        when: datetime | None = None,
    ) -> None:
        """File a message in a folder."""
        ...

    def close(self) -> None:
        """Release the connection or files; never raises."""
        ...

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def same_message_id(found: str | None, wanted: str) -> bool:
    """Compare two Message-IDs exactly, ignoring surrounding whitespace and angle brackets."""
    if found is None:
        return False
    return " ".join(found.split()).strip("<>") == wanted.strip().strip("<>")


def message_id_of(header_bytes: bytes) -> str | None:
    """Return the Message-ID field of a header block, unfolded."""
    value = BytesHeaderParser().parsebytes(header_bytes).get("Message-ID")
    return None if value is None else " ".join(str(value).split())


def chunks(uids: Sequence[int], size: int = UID_CHUNK) -> Iterator[list[int]]:
    """Split UIDs into sorted lists of at most ``size``."""
    ordered = sorted(set(uids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
