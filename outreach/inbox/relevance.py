"""Decide from the cheap header fields alone whether a message may concern a candidate.

The sync reads the header fields of every new message in the mailbox, most of them none of
our business. Parsing each with the full MIME parser costs more than fetching it, so this module
scans the raw field bytes with a few regular expressions and answers one question: is the body
worth fetching? Only the messages it lets through are parsed properly, classified and,
if they turn out to belong to a candidate, stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_UNFOLD = re.compile(rb"\r?\n[ \t]+")
_MSGID = re.compile(r"<[^<>\s]+>")
_BRACKETED = re.compile(r"<\s*([^<>@\s]+@[^<>\s]+?)\s*>")
_BARE = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_BOUNCE_LOCALS = frozenset(
    {"mailer-daemon", "mailer_daemon", "mail-daemon", "mailerdaemon", "postmaster", "mdaemon"}
)
_WANTED = frozenset(
    {
        "from",
        "to",
        "cc",
        "message-id",
        "in-reply-to",
        "references",
        "content-type",
        "return-path",
        "x-failed-recipients",
        "auto-submitted",
        "subject",
    }
)


@dataclass(frozen=True)
class QuickHeaders:
    """The few fields relevance needs, lower-cased where that is how they compare."""

    from_addrs: tuple[str, ...]
    recipients: tuple[str, ...]  # To and Cc
    message_id: str | None
    thread_ids: tuple[str, ...]  # In-Reply-To and References
    content_type: str
    return_path: str | None
    failed_recipients: tuple[str, ...]
    auto_submitted: str
    subject: str


def scan(header_bytes: bytes) -> QuickHeaders:
    """Read the relevance fields from a raw header block without the MIME parser."""
    fields: dict[str, list[str]] = {}
    for line in _UNFOLD.sub(b" ", header_bytes).split(b"\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        key = name.strip().lower().decode("ascii", "replace")
        if key in _WANTED:
            fields.setdefault(key, []).append(value.decode("utf-8", "replace").strip())

    def joined(key: str) -> str:
        return " ".join(fields.get(key, ()))

    ids = _MSGID.findall(joined("message-id"))
    return_path = fields.get("return-path")
    return QuickHeaders(
        from_addrs=addresses(joined("from")),
        recipients=addresses(f"{joined('to')}, {joined('cc')}"),
        message_id=ids[0] if ids else None,
        thread_ids=tuple(
            dict.fromkeys(_MSGID.findall(joined("in-reply-to") + joined("references")))
        ),
        content_type=joined("content-type").lower(),
        return_path=None if return_path is None else return_path[0],
        failed_recipients=addresses(joined("x-failed-recipients")),
        auto_submitted=joined("auto-submitted").lower(),
        subject=joined("subject"),
    )


def addresses(value: str) -> tuple[str, ...]:
    """Return the e-mail addresses in a header value, lower-cased, in order, without repeats."""
    if "@" not in value:
        return ()
    found = _BRACKETED.findall(value) or _BARE.findall(value)
    return tuple(dict.fromkeys(address.strip(".").lower() for address in found))


@dataclass
class Known:
    """What the store knows: candidates' addresses, our Message-IDs and our own addresses."""

    candidates: dict[str, int] = field(default_factory=dict)  # address -> candidate id
    message_ids: set[str] = field(default_factory=set)  # ours, and stored messages'
    own: frozenset[str] = frozenset()  # the recruiter's addresses

    def add_ids(self, ids: Iterable[str | None]) -> None:
        self.message_ids.update(i for i in ids if i)


def may_bounce(quick: QuickHeaders) -> bool:
    """Tell whether a message looks like a delivery report (its body decides whose)."""
    local = quick.from_addrs[0].split("@")[0] if quick.from_addrs else ""
    return (
        local in _BOUNCE_LOCALS
        or "report-type" in quick.content_type
        or bool(quick.failed_recipients)
        or (quick.return_path is not None and quick.return_path.strip() in ("<>", ""))
    )


def relevant(quick: QuickHeaders, known: Known) -> bool:
    """Tell whether a message may belong to a candidate conversation: fetch its body if so."""
    if quick.message_id in known.message_ids:
        return True  # one of ours (the Sent folder), or one stored by an earlier run
    if any(i in known.message_ids for i in quick.thread_ids):
        return True
    if any(a in known.candidates for a in quick.from_addrs):
        return True
    if any(a in known.candidates for a in quick.failed_recipients):
        return True
    if any(a in known.own for a in quick.from_addrs) and any(
        a in known.candidates for a in quick.recipients
    ):
        return True  # the recruiter wrote to a candidate from her mail client
    return may_bounce(quick) and bool(known.candidates)
