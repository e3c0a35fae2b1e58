"""Mail as real clients and servers write it, and a store with candidates we wrote to.

Each builder returns the bytes of one message. Replies answer ``OURS`` (the Message-ID of our
first mail to the candidate), the way Gmail, Outlook, Apple Mail and Thunderbird quote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from outreach.config import Settings, settings_from_dict
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Campaign, Candidate, Draft, Enrolment

RECRUITER = "maria@nordlys.example"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DATE = "Mon, 02 Mar 2026 10:15:00 +0100"
SUBJECT = "Senior Backend Engineer at Nordlys"
QUOTED = (
    "Hi Ana,\n\nI came across your work on payment systems at Paywise and thought of a\n"
    "Senior Backend Engineer role we have in Stockholm.\n\nBest,\nMaria Berg\n"
)


def ours(n: int) -> str:
    return f"<intro-{n}@nordlys.example>"


def settings(
    host: str, port: int, user: str, database: str, *, maildir: str = "", **sync: Any
) -> Settings:
    """Settings for a plaintext IMAP user on loopback, or for a local Maildir."""
    imap = {"host": host, "port": port, "security": "none", "username": user}
    data: dict[str, Any] = {
        "sender": {"name": "Maria Berg", "email": RECRUITER, "timezone": "Europe/Stockholm"},
        "database": {"url": database},
        "imap": {"maildir": maildir} if maildir else imap,
        "sync": {"since": "2020-01-01", **sync},
    }
    return settings_from_dict(data, path=Path("/nonexistent/config.toml"))


@dataclass
class Person:
    id: int
    email: str
    name: str
    message_id: str  # our first mail to them
    draft_id: int
    follow_up_id: int  # a pending follow-up draft
    enrolment_id: int


def add_people(store: Store, emails: list[str]) -> dict[str, Person]:
    """Candidates we wrote to (a sent draft each), with a pending follow-up and an enrolment."""
    people: dict[str, Person] = {}
    with store.session() as session:
        campaign = Campaign(name="backend", sender_email=RECRUITER, status="active")
        session.add(campaign)
        session.flush()
        for n, email in enumerate(emails, 1):
            name = email.split("@")[0].title() + " Doe"
            candidate = Candidate(email=email, name=name)
            session.add(candidate)
            session.flush()
            enrolment = Enrolment(
                campaign_id=campaign.id, candidate_id=candidate.id, status="active", step=1
            )
            session.add(enrolment)
            session.flush()
            first = _draft(session, candidate.id, "outreach", enrolment.id)
            queue.approve(session, first, actor="maria", message_id=ours(n))
            queue.set_status(session, first, queue.SENT, actor="sender")
            follow = _draft(session, candidate.id, "follow_up", enrolment.id)
            people[email] = Person(
                candidate.id, email, name, ours(n), first.id, follow.id, enrolment.id
            )
    return people


def _draft(session: Any, candidate_id: int, kind: str, enrolment_id: int) -> Draft:
    return queue.create_draft(
        session,
        queue.NewDraft(
            candidate_id=candidate_id,
            kind=kind,
            template="intro",
            subject=SUBJECT if kind == "outreach" else f"Re: {SUBJECT}",
            body=QUOTED,
            author="template",
            enrolment_id=enrolment_id,
        ),
    )


def draft_status(store: Store, draft_id: int) -> str:
    with store.read() as session:
        return str(session.scalar(select(Draft.status).where(Draft.id == draft_id)))


def head(
    sender: str,
    to: str = f"Maria Berg <{RECRUITER}>",
    subject: str = f"Re: {SUBJECT}",
    msgid: str | None = "<reply-1@mail.example.org>",
    in_reply_to: str | None = None,
    date: str = DATE,
    **extra: str,
) -> str:
    fields = {"From": sender, "To": to, "Subject": subject, "Date": date}
    if msgid is not None:
        fields["Message-ID"] = msgid
    if in_reply_to is not None:
        fields["In-Reply-To"] = in_reply_to
        fields["References"] = in_reply_to
    fields["MIME-Version"] = "1.0"
    fields.update({k.replace("_", "-"): v for k, v in extra.items()})
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items())


def plain(headers: str, body: str, charset: str = "utf-8") -> bytes:
    return (
        headers
        + f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body.replace("\n", "\r\n")
    ).encode("utf-8" if charset.lower() in ("utf-8", "us-ascii") else charset)


def alternative(headers: str, text: str, html: str) -> bytes:
    b = "000000000000b0d1e905f1c2a3b4"
    return (
        (
            headers
            + f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
            + f"--{b}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n"
            + f"--{b}\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n{html}\r\n--{b}--\r\n"
        )
        .replace("\r\n", "\n")
        .replace("\n", "\r\n")
        .encode()
    )


def quote(text: str) -> str:
    return "".join(f"> {line}\n" if line else ">\n" for line in text.splitlines())


def gmail_reply(sender: str, msgid: str, answer: str, to_ours: str) -> bytes:
    attribution = f"On Mon, 2 Mar 2026 at 09:02, Maria Berg <{RECRUITER}> wrote:"
    text = f"{answer}\n\n{attribution}\n\n{quote(QUOTED)}"
    html = (
        f'<div dir="ltr">{answer}</div><br><div class="gmail_quote">'
        f'<div dir="ltr" class="gmail_attr">{attribution}<br></div>'
        f'<blockquote class="gmail_quote">{QUOTED.replace(chr(10), "<br>")}</blockquote></div>'
    )
    return alternative(head(sender, msgid=msgid, in_reply_to=to_ours), text, html)


def outlook_reply(sender: str, msgid: str, answer: str, to_ours: str) -> bytes:
    block = (
        f"From: Maria Berg <{RECRUITER}>\nSent: Monday, March 2, 2026 9:02 AM\n"
        f"To: {sender}\nSubject: {SUBJECT}"
    )
    text = f"{answer}\n\n________________________________\n{block}\n\n{QUOTED}"
    html = (
        f"<html><body><div>{answer}</div><hr>"
        f'<div id="divRplyFwdMsg" dir="ltr">{block.replace(chr(10), "<br>")}</div>'
        f"<div>{QUOTED.replace(chr(10), '<br>')}</div></body></html>"
    )
    return alternative(
        head(sender, msgid=msgid, in_reply_to=to_ours, Thread_Topic=SUBJECT), text, html
    )


def apple_reply(sender: str, msgid: str, answer: str, to_ours: str) -> bytes:
    body = (
        f"{answer}\n\nSent from my iPhone\n\n"
        f"> On 2 Mar 2026, at 09:02, Maria Berg <{RECRUITER}> wrote:\n>\n{quote(QUOTED)}"
    )
    # iOS drops References: In-Reply-To only.
    headers = head(sender, msgid=msgid, X_Mailer="iPhone Mail (21D61)")
    return plain(headers + f"In-Reply-To: {to_ours}\r\n", body)


def thunderbird_reply(sender: str, msgid: str, answer: str, to_ours: str) -> bytes:
    text = f"{answer}\n\nOn 2026-03-02 09:02, Maria Berg wrote:\n{quote(QUOTED)}"
    html = (
        f"<html><body><p>{answer}</p>"
        f'<div class="moz-cite-prefix">On 2026-03-02 09:02, Maria Berg wrote:<br></div>'
        f'<blockquote type="cite">{QUOTED.replace(chr(10), "<br>")}</blockquote></body></html>'
    )
    return alternative(
        head(sender, msgid=msgid, in_reply_to=to_ours, User_Agent="Mozilla Thunderbird"),
        text,
        html,
    )


def swedish_reply(sender: str, msgid: str, answer: str, to_ours: str) -> bytes:
    body = (
        f"{answer}\n\nDen mån 2 mars 2026 kl 09:02 skrev Maria Berg <{RECRUITER}>:\n{quote(QUOTED)}"
    )
    return plain(head(sender, msgid=msgid, subject=f"SV: {SUBJECT}", in_reply_to=to_ours), body)


def german_reply(sender: str, msgid: str, answer: str, to_ours: str) -> bytes:
    body = (
        f"{answer}\n\nAm Mo., 2. März 2026 um 09:02 Uhr schrieb Maria Berg <{RECRUITER}>:\n"
        f"{quote(QUOTED)}"
    )
    return plain(head(sender, msgid=msgid, subject=f"AW: {SUBJECT}", in_reply_to=to_ours), body)


def dsn_bounce(rcpt: str, original: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    b = "B0UNCE.1772441700/mx.nordlys.example"
    headers = head(
        "MAILER-DAEMON@mx.nordlys.example (Mail Delivery System)",
        to=RECRUITER,
        subject="Undelivered Mail Returned to Sender",
        msgid=f"<20260302091500.{rcpt.split('@')[0]}@mx.nordlys.example>",
        Auto_Submitted="auto-replied",
    )
    return (
        headers
        + f'Content-Type: multipart/report; report-type=delivery-status; boundary="{b}"\r\n\r\n'
        + f"--{b}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        + "This is the mail system at host mx.nordlys.example.\r\n\r\n"
        + "I'm sorry to have to inform you that your message could not\r\n"
        + f"be delivered to one or more recipients.\r\n\r\n<{rcpt}>: host mx.example.org said:"
        + f" 550 {status} User unknown\r\n\r\n"
        + f"--{b}\r\nContent-Type: message/delivery-status\r\n\r\n"
        + "Reporting-MTA: dns; mx.nordlys.example\r\n\r\n"
        + f"Final-Recipient: rfc822; {rcpt}\r\nOriginal-Recipient: rfc822;{rcpt}\r\n"
        + f"Action: {action}\r\nStatus: {status}\r\n"
        + f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n\r\n"
        + f"--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        + f"From: Maria Berg <{RECRUITER}>\r\nTo: {rcpt}\r\nSubject: {SUBJECT}\r\n"
        + f"Message-ID: {original}\r\n\r\n--{b}--\r\n"
    ).encode()


def qmail_bounce(rcpt: str, original: str) -> bytes:
    """qmail's plain-text bounce: the reason, then a copy of the message, headers and all."""
    headers = head(
        "MAILER-DAEMON@mail.example.net",
        to=RECRUITER,
        subject="failure notice",
        msgid="<20260302091501.qmail@mail.example.net>",
    )
    body = (
        "Hi. This is the qmail-send program at mail.example.net.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{rcpt}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        f"From: Maria Berg <{RECRUITER}>\nTo: {rcpt}\nSubject: {SUBJECT}\n"
        f"Message-ID: {original}\n\n{QUOTED}"
    )
    return plain(headers, body, "us-ascii")


def out_of_office(sender: str, subject: str, body: str, to_ours: str, **extra: str) -> bytes:
    headers = head(
        sender,
        subject=subject,
        msgid=f"<ooo-{abs(hash(subject))}@mail.example.org>",
        in_reply_to=to_ours,
        **extra,
    )
    return plain(headers, body)


def unrelated(n: int) -> bytes:
    headers = head(
        "Lena Ek <lena@friends.example>",
        subject=f"Dinner on Friday? ({n})",
        msgid=f"<dinner-{n}@friends.example>",
    )
    return plain(headers, "Are you free on Friday? The new place on Götgatan.\n\nLena\n")
