"""Build the exact bytes of an approved message, and check them before anything is sent.

Every header value that comes from data (names, subject, addresses, message ids) is checked
for line breaks and control characters, then written by ``outreach.mail.headers`` so that text that
looks like an RFC 2047 encoded word stays that text. The body is 7-bit clean (quoted-printable
when needed), so no server needs 8BITMIME. ``message_bytes`` parses what it built back with
the standard library's parser (``outreach.mail.check``) and refuses it unless it says exactly
what was asked for: the bytes are what a recipient's mail program will read.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import format_datetime, make_msgid, parsedate_to_datetime

import nh3
from email_validator import EmailNotValidError, validate_email
from markdown_it import MarkdownIt

from outreach.errors import SendError
from outreach.mail import headers
from outreach.mail.check import check_message

_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_OWN_MSG_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_FOREIGN_MSG_ID = re.compile(r"<[^<>\s]+>")
_SEVEN_BIT = re.compile(r"[\t\n\x20-\x7e]*")
_MAX_LINE = 998
_HTML_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip
ENCODED_WORD_HINT = "looks like an RFC 2047 encoded word (=?...?=)"


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
        if 0xD800 <= ord(char) < 0xE000:
            raise SendError(f"{field} of draft contains an invalid character; edit the {field}")
    return value


@functools.lru_cache(maxsize=256)  # the sender's address is checked for every message
def _check_address(field: str, value: str) -> str:
    """Validate an email address and return its ASCII form."""
    _check_header_text(field, value)
    try:
        valid = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise SendError(f"{field} {value!r} is not a valid email address: {exc}") from None
    if valid.ascii_email is None:  # pragma: no cover - allow_smtputf8=False guarantees it
        raise SendError(f"{field} {value!r} needs SMTPUTF8, which outreach does not send")
    if "=?" in valid.ascii_email:  # mail readers would decode it into other text
        raise SendError(f"{field} {value!r} {ENCODED_WORD_HINT}; it cannot be sent")
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
    if "=?" in value:
        raise SendError(f"{field} {value!r} {ENCODED_WORD_HINT}; it cannot be sent")
    return value


def new_message_id(sender_email: str) -> str:
    """Return a fresh Message-ID on the sender's domain (never the machine's hostname)."""
    address = _check_address("sender address", sender_email)
    return make_msgid(domain=address.rpartition("@")[2])


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


def checked(out: Outgoing) -> Outgoing:
    """The message's fields as they will be written; SendError names a field that cannot be."""
    if out.date.tzinfo is None:
        raise SendError("date of message has no timezone; pass an aware datetime")
    reply_to = out.reply_to
    if reply_to is not None:
        reply_to = _check_address("reply-to address", reply_to)
    in_reply_to = out.in_reply_to
    if in_reply_to is not None:
        in_reply_to = _check_msg_id("in-reply-to", in_reply_to, own=False)
    refs = [_check_msg_id("references", ref, own=False) for ref in out.references]
    text = out.body_text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SendError("body of draft contains an invalid character; edit the body") from None
    return replace(
        out,
        from_email=_check_address("sender address", out.from_email),
        to_email=_check_address("recipient address", out.to_email),
        # Mail readers (Python's among them) read a run of spaces in a name as one.
        from_name=" ".join(_check_header_text("sender name", out.from_name).split()),
        to_name=" ".join(_check_header_text("recipient name", out.to_name).split()),
        subject=_check_header_text("subject", out.subject).strip(),
        message_id=_check_msg_id("message id", out.message_id, own=True),
        in_reply_to=in_reply_to,
        references=tuple(dict.fromkeys(refs)),
        reply_to=reply_to,
        body_text=text if text.endswith("\n") else text + "\n",
    )


def _text_part(text: str, subtype: str) -> tuple[str, bytes]:
    """Content headers and CRLF payload: 7bit for short plain lines, else quoted-printable."""
    data = text.encode("utf-8")
    if _SEVEN_BIT.fullmatch(text) and all(len(line) <= 76 for line in text.split("\n")):
        cte = "7bit"
    else:
        cte, data = "quoted-printable", binascii.b2a_qp(data, istext=True)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return head, data.replace(b"\n", b"\r\n")


def _body(out: Outgoing) -> bytes:
    """MIME-Version, the content headers and the body: text, or text and sanitised HTML."""
    head, payload = _text_part(out.body_text, "plain")
    if not out.html:
        return f"MIME-Version: 1.0\r\n{head}\r\n".encode("ascii") + payload
    html_head, html_payload = _text_part(render_html(out.body_text), "html")
    # "=_" never occurs in quoted-printable text; the check below covers 7bit parts.
    boundary = "=_" + hashlib.sha256(payload + html_payload).hexdigest()[:32]
    if boundary.encode("ascii") in payload + html_payload:  # pragma: no cover - 2**-128
        raise SendError("the body contains its own MIME boundary; change a word and retry")
    return (
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\n{head}\r\n".encode("ascii")
        + payload  # the CRLF before a delimiter belongs to it: one more keeps the last newline
        + f"\r\n--{boundary}\r\n{html_head}\r\n".encode("ascii")
        + html_payload
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )


def build(out: Outgoing) -> bytes:
    """The bytes of an already ``checked`` message: headers written by hand, then the body."""
    fields = [
        headers.address_field("From", out.from_name, out.from_email),
        headers.address_field("To", out.to_name, out.to_email),
    ]
    if out.reply_to is not None:
        fields.append(headers.address_field("Reply-To", "", out.reply_to))
    fields += [
        headers.text_field("Subject", out.subject),
        f"Date: {format_datetime(out.date)}\r\n",
        f"Message-ID: {out.message_id}\r\n",
    ]
    if out.in_reply_to is not None:
        fields.append(f"In-Reply-To: {out.in_reply_to}\r\n")
    if out.references:
        fields.append(headers.token_field("References", out.references))
    data = "".join(fields).encode("ascii") + _body(out)
    for number, line in enumerate(data.split(b"\r\n"), start=1):
        if len(line) > _MAX_LINE:
            raise SendError(f"line {number} of the message is longer than {_MAX_LINE} bytes")
        if b"\r" in line or b"\n" in line:  # pragma: no cover - every value was checked
            raise SendError(f"line {number} of the message has a bare CR or LF")
    return data


def message_bytes(out: Outgoing) -> bytes:
    """The exact bytes to send and to freeze in the outbox, checked by parsing them back."""
    fields = checked(out)
    data = build(fields)
    check_message(data, fields, render_html(fields.body_text) if fields.html else None)
    return data


def digest(data: bytes) -> str:
    """The hash the outbox keeps with frozen bytes, checked again right before sending."""
    return hashlib.sha256(data).hexdigest()


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
