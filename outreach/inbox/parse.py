"""Parse incoming mail into a flat, decoded record without ever raising.

Header values are decoded from the raw bytes by a tolerant decoder of our own instead of
``email.policy.default``'s header objects: those raise on some broken headers and decide
silently what to do with bad encoded words, while we want the text *and* a flag saying so.
The MIME tree itself comes from the stdlib parser (``policy.default``, ``compat32`` as a
fallback; ``compat32`` alone for header-only fetches, where speed matters), and part headers
are read through a ``compat32`` view, which never raises. Body text has "\n" line ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import errors, policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from types import MappingProxyType

from outreach.inbox.decode import decode_bytes, decode_header, has_8bit, to_text

# Headers classify() needs; anything else stays in ``message``.
SELECTED_HEADERS = tuple(
    """auto-submitted x-autoreply x-autorespond x-auto-response-suppress
    x-ms-exchange-inbox-rules-loop x-ms-exchange-generated-message-source precedence list-id
    list-unsubscribe list-post return-path x-failed-recipients content-type feedback-type
    x-loop""".split()
)

# Report parts hold header blocks, not text for the recruiter.
_REPORT_PARTS = (
    "message/delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
)

_MSGID = re.compile(r"<[^<>\s]+>")

# Parse-time defects that mean the MIME structure is broken.
_MIME_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.FirstHeaderLineIsContinuationDefect,
    errors.MisplacedEnvelopeHeaderDefect,
    errors.MissingHeaderBodySeparatorDefect,
    errors.MultipartInvariantViolationDefect,
    errors.InvalidMultipartContentTransferEncodingDefect,
)


@dataclass(frozen=True)
class Parsed:
    """One incoming message, decoded; content of attachments is never kept."""

    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_addr: str | None
    from_name: str
    to: list[str]
    cc: list[str]
    date: datetime | None
    subject: str
    text: str | None
    html: str | None
    attachments: list[tuple[str, int]]
    headers: Mapping[str, str]
    content_type: str
    flags: list[str]
    message: EmailMessage | Message


def parse_message(raw: bytes, *, max_body_bytes: int = 5_000_000) -> Parsed:
    """Parse a whole message; never raises, problems end up in ``flags``."""
    return _parse(raw, headers_only=False, max_body_bytes=max_body_bytes)


def _parse(raw: bytes, *, headers_only: bool, max_body_bytes: int) -> Parsed:
    flags: list[str] = []
    msg = _parse_tree(raw, headers_only, flags)
    items = _raw_items(msg)
    if any(has_8bit(value) for _, value in items):
        flags.append("8bit-header")

    def first(name: str) -> str | None:
        for key, value in items:
            if key.lower() == name:
                return decode_header(value, flags)
        return None

    def all_raw(name: str) -> list[str]:
        return [to_text(v) for k, v in items if k.lower() == name]

    message_id = _first_msgid(first("message-id") or "")
    if message_id is None:
        flags.append("missing-message-id")
    senders = _addresses(all_raw("from"), flags)
    from_name, from_addr = senders[0] if senders else ("", None)
    selected = {name: value for name in SELECTED_HEADERS if (value := first(name)) is not None}

    body = _Body(max_body_bytes)
    if not headers_only:
        try:
            body.collect(msg, flags)
        except Exception:  # a bug of ours must not stop the sync; tests assert it never shows
            flags.append("parse-error")
        if not (body.text or "").strip() and not (body.html or "").strip():
            flags.append("no-body")
    if any(isinstance(d, _MIME_DEFECTS) for part in _walk(msg) for d in part.defects):
        flags.append("malformed-mime")
    return Parsed(
        message_id=message_id,
        in_reply_to=_msgids(" ".join(all_raw("in-reply-to"))),
        references=_msgids(" ".join(all_raw("references"))),
        from_addr=from_addr,
        from_name=from_name,
        to=[addr for _, addr in _addresses(all_raw("to"), flags) if addr],
        cc=[addr for _, addr in _addresses(all_raw("cc"), flags) if addr],
        date=_date(first("date")),
        subject=" ".join((first("subject") or "").split()),
        text=body.text,
        html=body.html,
        attachments=body.attachments,
        headers=MappingProxyType(selected),
        content_type=_content_type(msg),
        flags=list(dict.fromkeys(flags)),
        message=msg,
    )


def _parse_tree(raw: bytes, headers_only: bool, flags: list[str]) -> EmailMessage | Message:
    if headers_only:
        # We read raw header values anyway; compat32 skips policy.default's header objects,
        # which are most of the cost of the header-fetch pass over a whole mailbox.
        try:
            return BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        except Exception:  # an empty message beats an exception in the sync loop
            return Message()
    try:
        parsed: EmailMessage | Message = BytesParser(policy=policy.default).parsebytes(
            raw, headersonly=headers_only
        )
        return parsed
    except Exception:  # the stdlib parser has known crashes on hostile input
        flags.append("malformed-mime")
    try:
        return BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=headers_only)
    except Exception:  # an empty message beats an exception in the sync loop
        return Message()


def _raw_items(msg: Message) -> list[tuple[str, str]]:
    try:
        return [(str(k), str(v)) for k, v in msg.raw_items()]
    except Exception:  # raw_items only copies, but hostile input surprises
        return []


def _compat(part: Message) -> Message:
    """A compat32 copy of the part's headers: its getters are lenient and never raise."""
    view = Message()
    for name, value in _raw_items(part):
        view[name] = value
    return view


def _walk(msg: Message) -> Iterator[Message]:
    try:
        yield from msg.walk()
    except Exception:  # walk() of a half-built tree can fail
        yield msg


def _content_type(part: Message) -> str:
    try:
        return _compat(part).get_content_type()
    except Exception:  # hostile input must not stop the sync
        return "text/plain"


def _addresses(values: list[str], flags: list[str]) -> list[tuple[str, str | None]]:
    """Parse address headers before decoding, so an encoded comma can't split a name."""
    found: list[tuple[str, str | None]] = []
    try:
        pairs = getaddresses([v.replace("\r", "").replace("\n", "") for v in values])
    except Exception:  # getaddresses has crashed on odd input in the past
        return found
    for name, addr in pairs:
        address = addr.strip().lower()
        valid = "@" in address and not address.startswith("@") and not address.endswith("@")
        if valid or name:
            found.append((decode_header(name, flags), address if valid else None))
    return found


def _first_msgid(value: str) -> str | None:
    ids = _msgids(value)
    if ids:
        return ids[0]
    token = value.strip()
    return f"<{token}>" if token and " " not in token else None


def _msgids(value: str) -> list[str]:
    ids = _MSGID.findall(value)
    if not ids:  # some clients omit the angle brackets
        ids = [f"<{t.strip('<>,;')}>" for t in value.split() if "@" in t]
    return list(dict.fromkeys(ids))


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class _Body:
    """Collects the best text and HTML bodies and the attachment list of a MIME tree."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.text: str | None = None
        self.html: str | None = None
        self.attachments: list[tuple[str, int]] = []
        # Bodies of an attached message (a bounce's returned mail) count only as a fallback.
        self._nested_text: str | None = None
        self._nested_html: str | None = None

    def collect(self, msg: Message, flags: list[str]) -> None:
        """Walk the tree; nested message/* parts are visited after their container's text."""
        self._visit(msg, flags, nested=False, depth=0)
        if self.text is None and self.html is None:
            self.text, self.html = self._nested_text, self._nested_html

    def _visit(self, part: Message, flags: list[str], *, nested: bool, depth: int) -> None:
        if depth > 50:  # a hostile message can nest parts thousands deep
            flags.append("malformed-mime")
            return
        ctype = _content_type(part)
        if ctype in _REPORT_PARTS:
            return
        payload = _payload(part)
        if ctype.startswith("multipart/") and isinstance(payload, str):
            # The parser found no boundary it knew: salvage the parts or read it as text.
            flags.append("malformed-mime")
            part = _salvage(_raw_body(part, payload))
            ctype = _content_type(part)
            payload = _payload(part)
        if isinstance(payload, list):
            inner = nested or ctype.startswith("message/")
            for child in payload:
                if isinstance(child, Message):
                    self._visit(child, flags, nested=inner, depth=depth + 1)
            return
        view = _compat(part)
        filename = _filename(view, flags)
        disposition = str(view.get("content-disposition") or "").split(";")[0].strip().lower()
        is_text = ctype in ("text/plain", "text/html")
        if filename or disposition == "attachment" or not (is_text or ctype.startswith("text/")):
            if not ctype.startswith(("message/", "multipart/")):
                size = self._size(part, view, payload, flags)
                self.attachments.append((filename or "", size))
            return
        if not is_text:
            return
        data = self._decoded(part, payload, flags)
        charset = view.get_content_charset() or None
        text = decode_bytes(data, charset, flags).replace("\r\n", "\n")
        if ctype == "text/plain":
            if not nested and self.text is None:
                self.text = text
            elif nested and self._nested_text is None:
                self._nested_text = text
        elif not nested and self.html is None:
            self.html = text
        elif nested and self._nested_html is None:
            self._nested_html = text

    def _decoded(self, part: Message, payload: str | None, flags: list[str]) -> bytes:
        if payload is not None and len(payload) > self.max_bytes * 2:
            flags.append("huge-body")
            payload = payload[: self.max_bytes * 2]
            part.set_payload(payload)  # don't keep what we won't read
        try:
            data = part.get_payload(decode=True)
        except Exception:  # broken transfer encodings
            flags.append("malformed-mime")
            data = None
        if not isinstance(data, bytes):
            data = (payload or "").encode("utf-8", "surrogateescape")
        if len(data) > self.max_bytes:
            flags.append("huge-body")
            data = data[: self.max_bytes]
        return data

    def _size(self, part: Message, view: Message, payload: str | None, flags: list[str]) -> int:
        """Size of the decoded attachment; huge ones are measured, flagged and dropped."""
        encoded = payload or ""
        cte = str(view.get("content-transfer-encoding") or "").strip().lower()
        if cte == "base64":
            chars = len(encoded) - sum(encoded.count(c) for c in "\r\n \t")
            size = chars * 3 // 4 - encoded.rstrip().count("=", -2)
        elif len(encoded) <= self.max_bytes:
            data = part.get_payload(decode=True) if encoded else b""
            size = len(data) if isinstance(data, bytes) else len(encoded)
        else:
            size = len(encoded)
        if size > self.max_bytes:
            flags.append("huge-attachment")
            part.set_payload("")  # drop the content from the kept message object
        return max(size, 0)


_FIRST_BOUNDARY = re.compile(r"^--([^\s-][^\s]{0,69})[ \t]*\r?$", re.M)


def _raw_body(part: Message, payload: str) -> bytes:
    try:
        data = part.get_payload(decode=True)  # bytes as received; get_payload() would replace
    except Exception:  # hostile input must not stop the sync
        data = None
    return data if isinstance(data, bytes) else payload.encode("utf-8", "surrogateescape")


def _salvage(data: bytes) -> Message:
    """Reparse a multipart body with the boundary it really uses, else as plain text."""
    found = _FIRST_BOUNDARY.search(data.decode("ascii", "replace"))
    if found is not None:
        header = f'Content-Type: multipart/mixed; boundary="{found[1]}"\r\n\r\n'
        salvaged = _parse_tree(header.encode("ascii", "replace") + data, False, [])
        if isinstance(_payload(salvaged), list):
            return salvaged
    return _parse_tree(b"Content-Type: text/plain\r\n\r\n" + data, False, [])


def _payload(part: Message) -> list[Message] | str | None:
    try:
        payload = part.get_payload()
    except Exception:  # hostile input must not stop the sync
        return None
    if isinstance(payload, str):
        return payload
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    return None


def _filename(view: Message, flags: list[str]) -> str | None:
    try:
        name = view.get_filename() or view.get_param("name")
    except Exception:  # hostile input must not stop the sync
        return None
    if isinstance(name, tuple):  # RFC 2231 (charset, language, value)
        name = name[2]
    if not name:
        return None
    return decode_header(str(name), flags)
