"""Read delivery reports: failed recipients, hard or soft, and which of our messages bounced.

``flufl.bounce`` (GNU Mailman) knows the DSN and many legacy formats; the DSN ``Status`` code
overrides its verdict because flufl rates by ``Action`` only, and a mailbox-full 4.2.2 that an
MTA finally gave up on ("Action: failed") is still worth retrying later.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from flufl.bounce import all_failures

from outreach.inbox.parse import Parsed

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_LINE = re.compile(r"(?<!\d)([45]\d\d)[ -]+(?:#?[45]\.\d{1,3}\.\d{1,3}\b)?[^\n]{0,160}")
_MSGID_FIELD = re.compile(r"^(?:original-)?message-id:\s*(<[^<>\s]+>)", re.I | re.M)
_ADDRESS = re.compile(r"[^\s<>;,\"']+@[^\s<>;,\"']+")


@dataclass(frozen=True)
class BounceDetails:
    """What a delivery report says about the failed delivery."""

    recipients: tuple[str, ...]
    permanent: bool | None
    reason: str
    # The recipients a machine-readable report names (Final- and Original-Recipient): with one
    # of our Message-IDs, what tells a bounce of our mail from a forged notice.
    reported: tuple[str, ...] = ()


def parts(parsed: Parsed) -> Iterator[tuple[Message, str]]:
    """Yield every MIME part with its lower-case content type; never raises."""
    try:
        walked = list(parsed.message.walk())
    except Exception:  # a half-built tree from broken MIME
        walked = [parsed.message]
    for part in walked:
        try:
            ctype = part.get_content_type()
        except Exception:  # hostile input must not stop the sync
            ctype = ""
        yield part, ctype


def report_type(parsed: Parsed) -> str:
    """The ``report-type`` of a ``multipart/report`` message, or ""."""
    if parsed.content_type != "multipart/report":
        return ""
    found = re.search(r"report-type\s*=\s*\"?([\w-]+)", parsed.headers.get("content-type", ""))
    return found[1].lower() if found else ""


def flatten(part: Message) -> str:
    """The text of a part: header blocks of report parts, or the decoded payload."""
    try:
        payload = part.get_payload()
    except Exception:  # hostile input must not stop the sync
        return ""
    if isinstance(payload, list):
        return "\n\n".join(_headers_text(p) + flatten(p) for p in payload if isinstance(p, Message))
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken transfer encoding: fall back to the raw text
        data = None
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return payload if isinstance(payload, str) else ""


def _headers_text(part: Message) -> str:
    try:
        return "".join(f"{k}: {v}\n" for k, v in part.raw_items())
    except Exception:  # hostile input must not stop the sync
        return ""


def original_message_id(parsed: Parsed) -> str | None:
    """Find the Message-ID of our message inside a bounce, receipt or complaint."""
    for part, ctype in parts(parsed):
        if ctype in ("message/rfc822", "message/global"):
            for inner in _payload_messages(part):
                found = _MSGID_FIELD.search(_headers_text(inner))
                if found:
                    return found[1]
        elif ctype in (
            "text/rfc822-headers",
            "message/rfc822-headers",
            "message/global-headers",
            "message/disposition-notification",
            "message/feedback-report",
        ):
            text = flatten(part)
            for inner in _payload_messages(part):
                text = _headers_text(inner) + text
            found = _MSGID_FIELD.search(text)
            if found:
                return found[1]
    # Legacy bounces (qmail, old Exchange) quote the original headers in the body text.
    found = _MSGID_FIELD.search(parsed.text or "")
    if found:
        return found[1]
    return parsed.in_reply_to[0] if parsed.in_reply_to else None


def _payload_messages(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:  # hostile input must not stop the sync
        return []
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str) and payload.strip():
        return [HeaderParser(policy=compat32).parsestr(payload)]
    return []


def bounce_details(parsed: Parsed) -> BounceDetails:
    """Failed recipients, hard (True) or soft (False) failure, and a one-line reason."""
    fields = _dsn_fields(parsed)
    temporary, permanent = _flufl_failures(parsed.message)
    recipients: list[str] = []
    reported: list[str] = []
    for block in fields:
        recipient = block.get("final-recipient") or block.get("original-recipient") or ""
        recipients += [a.lower() for a in _ADDRESS.findall(recipient.split(";")[-1])]
        for name in ("final-recipient", "original-recipient"):
            reported += [a.lower() for a in _ADDRESS.findall(block.get(name, "").split(";")[-1])]
    recipients += sorted(permanent | temporary)
    recipients += [
        a.lower() for a in _ADDRESS.findall(parsed.headers.get("x-failed-recipients", ""))
    ]

    text = parsed.text or ""
    statuses = [block.get("status", "") for block in fields]
    status = next((m for s in statuses if (m := _STATUS.search(s))), None) or _STATUS.search(text)
    if status is not None and status[1] in "45":
        hard: bool | None = status[1] == "5"
    elif permanent or temporary:
        hard = bool(permanent)
    else:
        smtp = _SMTP_LINE.search(text)
        hard = None if smtp is None else smtp[1].startswith("5")
    return BounceDetails(
        tuple(dict.fromkeys(recipients)),
        hard,
        _reason(fields, text, hard),
        tuple(dict.fromkeys(reported)),
    )


def _reason(fields: list[dict[str, str]], text: str, hard: bool | None) -> str:
    for block in fields:
        diagnostic = block.get("diagnostic-code", "")
        if diagnostic:
            # "smtp; 550 5.1.1 <x@y>: Recipient address rejected": drop the type prefix.
            return " ".join(diagnostic.split(";", 1)[-1].split())[:200]
    smtp = _SMTP_LINE.search(text)
    if smtp is not None:
        return " ".join(smtp[0].split())[:200]
    # qmail and friends: "Sorry, no mailbox here by that name. (#5.1.1)".
    for line in text.splitlines():
        if _STATUS.search(line):
            return " ".join(line.split())[:200]
    for block in fields:
        if block.get("status"):
            return f"status {block['status'].strip()}"
    return {True: "delivery failed", False: "delivery delayed", None: "delivery problem"}[hard]


def _dsn_fields(parsed: Parsed) -> list[dict[str, str]]:
    """Per-recipient field blocks of every message/delivery-status part."""
    blocks: list[dict[str, str]] = []
    for part, ctype in parts(parsed):
        if ctype != "message/delivery-status":
            continue
        for block in _payload_messages(part):
            try:
                items = {k.lower(): " ".join(str(v).split()) for k, v in block.raw_items()}
            except Exception:  # hostile input must not stop the sync
                continue
            if "final-recipient" in items or "original-recipient" in items:
                blocks.append(items)
    return blocks


def _flufl_failures(message: Message) -> tuple[set[str], set[str]]:
    """Run flufl.bounce; its heuristic detectors can trip over odd input, so contain them."""
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a third-party parser's failure must not lose the bounce
        return set(), set()
    return _as_text(temporary), _as_text(permanent)


def _as_text(found: frozenset[bytes]) -> set[str]:
    return {address.decode("ascii", "replace").lower() for address in found}
