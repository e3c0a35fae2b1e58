"""Read a built message back as a mail program would, and refuse it unless it says what was asked.

The standard library's parser (the default policy) decodes RFC 2047 encoded words wherever the RFC
allows them and in places it does not (quoted strings, addresses, References). If the bytes
meant anything other than the approved fields to it, they could to a recipient's mail program
too: so the header set, every mailbox (name and address), the subject, the ids, the date and
the body must read back exactly as given, with no parsing defect, or nothing is sent.
"""

from __future__ import annotations

import functools
from email import policy
from email.headerregistry import BaseHeader, ContentTypeHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from typing import TYPE_CHECKING

from outreach.errors import SendError

if TYPE_CHECKING:
    from outreach.mail.messages import Outgoing


class _ParsedOnce(HeaderRegistry):
    """The default policy's header registry, parsing each distinct (name, value) once.

    A header object depends on nothing but its name and value, and is immutable. The sender,
    the content headers and the Date repeat across a batch of messages, and the parser itself
    reads Content-Type several times per message: remembering them makes the check 2-3x faster.
    """

    def __init__(self) -> None:
        super().__init__()
        self._parse = functools.lru_cache(maxsize=1024)(super().__call__)

    def __call__(self, name: str, value: str) -> BaseHeader:
        parsed: BaseHeader = self._parse(name, value)
        return parsed


_PARSER = BytesParser(policy=policy.default.clone(header_factory=_ParsedOnce()))
_PART_HEADERS = ["content-transfer-encoding", "content-type"]


def check_message(data: bytes, out: Outgoing, html: str | None) -> None:
    """Refuse (SendError) bytes that do not parse back to exactly `out` (and `html`, if any)."""
    try:
        problem = _problem(data, out, html)
    except Exception as exc:  # any header the parser cannot read back is not what was meant
        problem = f"the message cannot be read back ({type(exc).__name__}: {exc})"
    if problem is not None:
        raise SendError(f"the built message {problem}; nothing was sent")


def _expected_headers(out: Outgoing, html: str | None) -> list[str]:
    names = ["from", "to", "subject", "date", "message-id", "mime-version", "content-type"]
    if html is None:
        names.append("content-transfer-encoding")
    if out.reply_to is not None:
        names.append("reply-to")
    if out.in_reply_to is not None:
        names.append("in-reply-to")
    if out.references:
        names.append("references")
    return sorted(names)


def _mailboxes(header: object) -> list[tuple[str, str]]:
    return [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]


def _problem(data: bytes, out: Outgoing, html: str | None) -> str | None:
    msg = _PARSER.parsebytes(data)
    assert isinstance(msg, EmailMessage)  # the default policy makes EmailMessage objects
    names = sorted(key.lower() for key in msg.keys())
    expected = _expected_headers(out, html)
    if names != expected:
        return f"has the headers {', '.join(names)} instead of {', '.join(expected)}"
    # Each header is parsed on every access: read each one once.
    fields = {
        "From": (_mailboxes(msg["From"]), [(out.from_name, out.from_email)]),
        "To": (_mailboxes(msg["To"]), [(out.to_name, out.to_email)]),
        "Subject": (str(msg["Subject"]), out.subject),
        "Message-ID": (str(msg["Message-ID"]), out.message_id),
        "Date": (msg["Date"].datetime, out.date.replace(microsecond=0)),
    }
    if out.reply_to is not None:
        fields["Reply-To"] = (_mailboxes(msg["Reply-To"]), [("", out.reply_to)])
    if out.in_reply_to is not None:
        fields["In-Reply-To"] = (str(msg["In-Reply-To"]), out.in_reply_to)
    if out.references:
        fields["References"] = (str(msg["References"]).split(), list(out.references))
    for name, (found, wanted) in fields.items():
        if found != wanted:
            return f"reads back with {name} {found!r} instead of {wanted!r}"
    return _body_problem(msg, out.body_text, html)


def _text(part: MIMEPart, subtype: str, wanted: str) -> str | None:
    """Why this part is not the text/`subtype` part with exactly `wanted`, or None."""
    kind: ContentTypeHeader = part["Content-Type"]
    if kind.content_type != f"text/{subtype}" or kind.params.get("charset") != "utf-8":
        return f"has a {kind.content_type} part where text/{subtype} (utf-8) belongs"
    if part.defects:
        return f"has a malformed text/{subtype} part ({part.defects[0].__class__.__name__})"
    payload = part.get_payload(decode=True)  # what get_content decodes, without re-parsing
    if not isinstance(payload, bytes) or payload.decode("utf-8").replace("\r\n", "\n") != wanted:
        return f"reads back with a text/{subtype} body other than the approved one"
    return None


def _body_problem(msg: EmailMessage, body: str, html: str | None) -> str | None:
    if msg.defects:
        return f"is malformed ({msg.defects[0].__class__.__name__})"
    if html is None:
        return _text(msg, "plain", body)
    kind: ContentTypeHeader = msg["Content-Type"]
    if kind.content_type != "multipart/alternative":
        return "is not multipart/alternative"
    parts = list(msg.iter_parts())
    if len(parts) != 2:
        return f"has {len(parts)} parts instead of text and HTML"
    for part in parts:
        if sorted(key.lower() for key in part.keys()) != _PART_HEADERS:
            return "has a part with headers other than its content type and encoding"
    return _text(parts[0], "plain", body) or _text(parts[1], "html", html)
