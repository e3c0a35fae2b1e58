"""Build the MIME message of an approved draft, and the exact bytes to send and to keep.

Every header value that comes from data (names, subject, addresses, message ids) is checked
for line breaks and control characters before it reaches the email package, so a display
name such as ``"Eve\\r\\nBcc: x@y"`` is refused instead of becoming a header. The body is
7-bit clean (quoted-printable when needed), so no server needs 8BITMIME.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from typing import Any

import nh3
from email_validator import EmailNotValidError, validate_email
from markdown_it import MarkdownIt

from outreach.errors import SendError

# Reply prefixes that mean "already a reply" (English, Nordic, German, Dutch, Polish, ...).
_REPLY_PREFIX = re.compile(r"^\s*(re|sv|aw|antw|vs|odp|ynt|vá|atb|rif)(\[\d+\])?\s*:", re.I)
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_OWN_MSG_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_FOREIGN_MSG_ID = re.compile(r"<[^<>\s]+>")
_ID_HEADERS = frozenset({"references", "in-reply-to"})
_MAX_LINE = 998
_HTML_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip


class _MessagePolicy(EmailPolicy):
    """SMTP policy that folds References/In-Reply-To between ids, never into encoded words."""

    def _fold_ids(self, name: str, value: Any) -> str:
        lines = [f"{name}:"]
        for number, msg_id in enumerate(str(value).split()):
            too_long = len(lines[-1]) + 1 + len(msg_id) > (self.max_line_length or _MAX_LINE)
            if number and too_long:
                lines.append("")
            lines[-1] += " " + msg_id
        return self.linesep.join(lines) + self.linesep

    def fold(self, name: str, value: Any) -> str:
        if name.lower() in _ID_HEADERS:
            return self._fold_ids(name, value)
        folded: str = super().fold(name, value)
        return folded

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() in _ID_HEADERS:
            return self._fold_ids(name, value).encode("ascii")
        return super().fold_binary(name, value)


POLICY = _MessagePolicy(linesep="\r\n")


@dataclass(frozen=True)
class Outgoing:
    """Everything needed to build one outgoing message."""

    from_name: str
    from_email: str
    to_name: str
    to_email: str
    subject: str
    body_text: str
    message_id: str
    date: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    html: bool = False
    reply_to: str | None = None


def _check_header_text(field: str, value: str) -> str:
    """Refuse line breaks and control characters in a header value taken from data."""
    for char in value:
        if char in _LINE_BREAKS:
            raise SendError(f"{field} of draft contains a line break; edit the {field}")
        if ord(char) < 32 or ord(char) == 127 or 0x80 <= ord(char) < 0xA0:
            raise SendError(
                f"{field} of draft contains a control character {char!r}; edit the {field}"
            )
    return value


def _check_address(field: str, value: str) -> str:
    """Validate an email address and return its ASCII form."""
    _check_header_text(field, value)
    try:
        valid = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise SendError(f"{field} {value!r} is not a valid email address: {exc}") from None
    if valid.ascii_email is None:  # pragma: no cover - allow_smtputf8=False guarantees it
        raise SendError(f"{field} {value!r} needs SMTPUTF8, which outreach does not send")
    return valid.ascii_email


def _check_msg_id(field: str, value: str, *, own: bool) -> str:
    """Validate a Message-ID (ours needs a domain; foreign ones only need to be one token)."""
    _check_header_text(field, value)
    value = value.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    pattern = _OWN_MSG_ID if own else _FOREIGN_MSG_ID
    if not pattern.fullmatch(value) or not value.isascii():
        raise SendError(f"{field} {value!r} is not a valid message id like <id@example.com>")
    return value


def new_message_id(sender_email: str) -> str:
    """Return a fresh Message-ID on the sender's domain (never the machine's hostname)."""
    address = _check_address("sender address", sender_email)
    return make_msgid(domain=address.rpartition("@")[2])


def reply_subject(subject: str) -> str:
    """Return the subject of a reply: "Re: " once, keeping an existing reply prefix."""
    subject = subject.strip()
    if _REPLY_PREFIX.match(subject):
        return subject
    return f"Re: {subject}" if subject else "Re:"


def render_html(body_text: str) -> str:
    """Render the text body as Markdown into a sanitised HTML document."""
    markdown = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
    fragment = nh3.clean(
        markdown.render(body_text),
        tags=_HTML_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{fragment}</body></html>\n"
    )


def _cte(text: str) -> str:
    """Pick 7bit for short ASCII lines, else quoted-printable (readable, 7-bit clean)."""
    if text.isascii() and all(len(line) <= 76 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"


def build_message(out: Outgoing) -> EmailMessage:
    """Build the MIME message of an outgoing email; SendError names a bad field."""
    from_email = _check_address("sender address", out.from_email)
    to_email = _check_address("recipient address", out.to_email)
    from_name = _check_header_text("sender name", out.from_name).strip()
    to_name = _check_header_text("recipient name", out.to_name).strip()
    subject = _check_header_text("subject", out.subject).strip()
    message_id = _check_msg_id("message id", out.message_id, own=True)
    if out.date.tzinfo is None:
        raise SendError("date of message has no timezone; pass an aware datetime")

    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=from_name, addr_spec=from_email)
    msg["To"] = Address(display_name=to_name, addr_spec=to_email)
    if out.reply_to is not None:
        msg["Reply-To"] = Address(addr_spec=_check_address("reply-to address", out.reply_to))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(out.date)
    msg["Message-ID"] = message_id
    if out.in_reply_to is not None:
        msg["In-Reply-To"] = _check_msg_id("in-reply-to", out.in_reply_to, own=False)
    if out.references:
        refs = [_check_msg_id("references", ref, own=False) for ref in out.references]
        msg["References"] = " ".join(dict.fromkeys(refs))

    text = out.body_text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    msg.set_content(text, subtype="plain", charset="utf-8", cte=_cte(text))
    if out.html:
        html = render_html(text)
        msg.add_alternative(html, subtype="html", charset="utf-8", cte=_cte(html))
        for part in msg.iter_parts():
            del part["MIME-Version"]  # set_content adds it to every part; only the top needs it
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    """Return the exact bytes to send and to freeze in the outbox (CRLF, lines <= 998)."""
    data = msg.as_bytes(policy=POLICY)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    for number, line in enumerate(data.split(b"\r\n"), start=1):
        if len(line) > _MAX_LINE:
            raise SendError(f"line {number} of the message is longer than {_MAX_LINE} bytes")
        if b"\r" in line or b"\n" in line:
            raise SendError(f"line {number} of the message has a bare CR or LF")
    return data


STALE_DATE = timedelta(minutes=5)
_DATE_LINE = re.compile(rb"^Date: ([^\r\n]*)(?=\r\n)", re.MULTILINE)


def restamp(raw: bytes, when: datetime) -> bytes:
    """The message with `Date: when` if its Date is older than a few minutes; else raw itself.

    A message frozen at approval may wait hours for its turn; a person's mail client stamps
    the time it sends, and recipients' inboxes sort by it.
    """
    head_end = raw.find(b"\r\n\r\n")
    found = _DATE_LINE.search(raw, 0, head_end + 2 if head_end >= 0 else len(raw))
    if found is None:
        return raw
    try:
        stamped = parsedate_to_datetime(found.group(1).decode("ascii").strip())
    except (TypeError, ValueError, UnicodeDecodeError):
        stamped = None
    if stamped is not None and stamped.tzinfo is not None and when - stamped < STALE_DATE:
        return raw
    line = b"Date: " + format_datetime(when).encode("ascii")
    return raw[: found.start()] + line + raw[found.end() :]
