"""Classify incoming mail: bounce, receipt, complaint, auto-reply, calendar, opt-out, list, human.

The checks run in a fixed order and the first hit wins (docs/architecture.md, Inbox), except
that an explicit ``multipart/report`` report type is read first: a read receipt often has an
empty Return-Path too, and the report type is the one signal that is never ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from outreach.inbox.bounce import bounce_details, flatten, original_message_id, parts, report_type
from outreach.inbox.optout import OptOut, detect_opt_out
from outreach.inbox.parse import Parsed
from outreach.inbox.return_date import find_return_date


class Kind(StrEnum):
    """What an incoming message is, for the sequence logic and the recruiter."""

    BOUNCE = "bounce"
    READ_RECEIPT = "read_receipt"
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto_reply"
    CALENDAR_REPLY = "calendar_reply"
    OPT_OUT = "opt_out"
    OPT_OUT_UNCLEAR = "opt_out_unclear"
    MAILING_LIST = "mailing_list"
    HUMAN = "human"


@dataclass(frozen=True)
class Classification:
    """The verdict on one message and the details the recruiter and the sequence need."""

    kind: Kind
    permanent: bool | None = None
    failed_recipients: tuple[str, ...] = ()
    original_message_id: str | None = None
    return_date: date | None = None
    reason: str = ""
    reported_recipients: tuple[str, ...] = ()  # a bounce's Final-/Original-Recipient fields


_BOUNCE_SENDERS = frozenset(
    {"mailer-daemon", "mailer_daemon", "mail-daemon", "mailerdaemon", "postmaster", "mdaemon"}
)
_BOUNCE_SUBJECTS = re.compile(
    r"undeliver|undelivered mail|returned mail|delivery status notification|delivery failure"
    r"|delivery has failed|mail delivery failed|failure notice|delivery notification"
    r"|could not be delivered|nondeliverable|non-deliverable|message not delivered"
    r"|warning: message .* delayed|delayed mail|mail system error|^unzustellbar"
    r"|^olevererbar|^non remis|^onbestelbaar|^no se puede entregar|^kan ikke leveres"
    r"|^kunne ikke leveres|^ei voitu toimittaa|^non recapitabile|^unbestellbar",
    re.IGNORECASE,
)
# Subjects that announce an auto-reply anywhere in the line.
_AUTO_SUBJECT_PHRASES = re.compile(
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|autosvar"
    r"|automatiskt svar|automatisk svar|automatisk besvarelse|abwesenheitsnotiz"
    r"|automatische antwort|réponse automatique|reponse automatique|respuesta automática"
    r"|respuesta automatica|fuera de la oficina|automatisch antwoord|automaattinen vastaus"
    r"|absent du bureau|risposta automatica|fuori sede|vacation reply",
    re.IGNORECASE,
)
# Single words that are an auto-reply only as the subject's first word ("Frånvaro: Re: ...").
_AUTO_SUBJECT_WORDS = re.compile(
    r"^\W*(?:frånvaro|frånvarande|fraværende|fravær|fraværsmelding|poissa|afwezig|abwesend"
    r"|absence|absent|ausente|ferie|semester|urlaub|vacation|vacances|vacaciones|lomalla)\b",
    re.IGNORECASE,
)
_PARTSTAT = re.compile(r"PARTSTAT=([A-Z-]+)", re.IGNORECASE)


def classify(parsed: Parsed, reply_text: str, *, today: date | None = None) -> Classification:
    """Classify an incoming message; ``reply_text`` is the trimmed visible reply."""
    report = report_type(parsed)
    if report == "disposition-notification":
        return Classification(
            Kind.READ_RECEIPT,
            original_message_id=original_message_id(parsed),
            reason=_receipt_reason(parsed),
        )
    if report == "feedback-report":
        feedback = _report_field(parsed, "message/feedback-report", "feedback-type") or "abuse"
        return Classification(
            Kind.COMPLAINT,
            original_message_id=original_message_id(parsed),
            reason=f"spam complaint ({feedback})",
        )
    if report == "delivery-status" or _looks_like_bounce(parsed):
        details = bounce_details(parsed)
        # An empty Return-Path alone also marks auto-replies: only trust it with recipients.
        if report == "delivery-status" or _strong_bounce(parsed) or details.recipients:
            return Classification(
                Kind.BOUNCE,
                permanent=details.permanent,
                failed_recipients=details.recipients,
                original_message_id=original_message_id(parsed),
                reason=details.reason,
                reported_recipients=details.reported,
            )
    if _is_auto_reply(parsed):
        body = reply_text.strip() or parsed.text or _strip_tags(parsed.html or "")
        when = find_return_date(f"{parsed.subject}\n{body}", today or date.today())
        reason = f"out of office until {when.isoformat()}" if when else "automatic reply"
        return Classification(Kind.AUTO_REPLY, return_date=when, reason=reason)
    if (answer := _calendar_reply(parsed)) is not None:
        return Classification(Kind.CALENDAR_REPLY, reason=f"calendar reply: {answer}")
    verdict, phrase = detect_opt_out(reply_text)
    if verdict is OptOut.CLEAR:
        return Classification(Kind.OPT_OUT, reason=f'opt-out: "{phrase}"')
    if verdict is OptOut.UNCLEAR:
        return Classification(Kind.OPT_OUT_UNCLEAR, reason=f'mentions "{phrase}": please read')
    if _is_mailing_list(parsed):
        list_id = parsed.headers.get("list-id", "")
        return Classification(Kind.MAILING_LIST, reason=f"mailing list {list_id}".strip())
    return Classification(Kind.HUMAN)


def _strong_bounce(parsed: Parsed) -> bool:
    local = (parsed.from_addr or "").split("@")[0]
    return (
        local in _BOUNCE_SENDERS
        or bool(parsed.headers.get("x-failed-recipients"))
        or bool(_BOUNCE_SUBJECTS.search(parsed.subject))
    )


def _looks_like_bounce(parsed: Parsed) -> bool:
    return_path = parsed.headers.get("return-path")
    empty_return_path = return_path is not None and return_path.strip() in ("<>", "")
    return _strong_bounce(parsed) or empty_return_path


def _is_auto_reply(parsed: Parsed) -> bool:
    h = parsed.headers
    auto_submitted = h.get("auto-submitted", "no").split(";")[0].strip().lower()
    if auto_submitted not in ("no", ""):
        return True
    if any(h.get(name, "").strip().lower() not in ("", "no") for name in _AUTO_FLAGS):
        return True
    if h.get("precedence", "").strip().lower() == "auto_reply":
        return True
    # Exchange marks its out-of-office replies this way (and uses the header alone elsewhere).
    exchange = "x-ms-exchange-inbox-rules-loop" in h or (
        h.get("x-ms-exchange-generated-message-source", "").lower().startswith("mailbox rules")
    )
    if "x-auto-response-suppress" in h and exchange:
        return True
    subject = parsed.subject
    return bool(_AUTO_SUBJECT_PHRASES.search(subject) or _AUTO_SUBJECT_WORDS.search(subject))


_AUTO_FLAGS = ("x-autoreply", "x-autorespond")


def _calendar_reply(parsed: Parsed) -> str | None:
    """The attendee's answer when the message carries an iCalendar REPLY, else None."""
    for part, ctype in parts(parsed):
        if ctype not in ("text/calendar", "application/ics"):
            continue
        try:
            method = str(part.get_param("method") or "")
            payload = part.get_payload(decode=True)
        except Exception:  # hostile input must not stop the sync
            continue
        body = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if method.upper() == "REPLY" or re.search(r"^METHOD:\s*REPLY\s*$", body, re.M | re.I):
            found = _PARTSTAT.search(body)
            return found[1].lower() if found else "answered"
    return None


def _is_mailing_list(parsed: Parsed) -> bool:
    h = parsed.headers
    precedence = h.get("precedence", "").strip().lower()
    return (
        "list-id" in h
        or precedence == "list"
        or ("list-unsubscribe" in h and precedence in ("bulk", "junk"))
    )


def _receipt_reason(parsed: Parsed) -> str:
    disposition = _report_field(parsed, "message/disposition-notification", "disposition")
    return f"read receipt: {disposition}" if disposition else "read receipt"


def _report_field(parsed: Parsed, part_type: str, field: str) -> str:
    """A field of a machine-readable report part ("Disposition", "Feedback-Type"), or ""."""
    for part, ctype in parts(parsed):
        if ctype == part_type:
            found = re.search(rf"^{field}:\s*(.+)$", flatten(part), re.M | re.I)
            if found:
                return " ".join(found[1].split())
    return ""


def _strip_tags(html: str) -> str:
    return re.sub(r"<[^>]*>", " ", html)
