"""Classifying incoming mail, on messages written as the servers and clients send them."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.inbox.classify import Classification, Kind, classify
from outreach.inbox.parse import parse_message

TODAY = date(2026, 11, 20)


def crlf(text: str) -> bytes:
    """Literal message text as the bytes a server delivers (CRLF line ends)."""
    return text.replace("\n", "\r\n").encode("utf-8")


def run(raw: bytes, reply_text: str | None = None) -> Classification:
    """Parse and classify; the visible reply defaults to the whole text body."""
    parsed = parse_message(raw)
    text = parsed.text or "" if reply_text is None else reply_text
    return classify(parsed, text, today=TODAY)


POSTFIX_DSN = crlf("""\
Return-Path: <>
Delivered-To: rita@acme.example
Date: Tue, 24 Nov 2026 10:02:03 +0100 (CET)
From: MAILER-DAEMON@mail.acme.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: rita@acme.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4XyZ1.1764000123/mail.acme.example"
Content-Transfer-Encoding: 8bit
Message-Id: <20261124090203.4XyZ1@mail.acme.example>

This is a MIME-encapsulated message.

--4XyZ1.1764000123/mail.acme.example
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.acme.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<anna.berg@example.org>: host mx.example.org[203.0.113.5] said: 550 5.1.1
    <anna.berg@example.org>: Recipient address rejected: User unknown in
    virtual mailbox table (in reply to RCPT TO command)

--4XyZ1.1764000123/mail.acme.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.acme.example
X-Postfix-Queue-ID: 4XyZ1
X-Postfix-Sender: rfc822; rita@acme.example
Arrival-Date: Tue, 24 Nov 2026 10:02:01 +0100 (CET)

Final-Recipient: rfc822; anna.berg@example.org
Original-Recipient: rfc822;anna.berg@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <anna.berg@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

--4XyZ1.1764000123/mail.acme.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <rita@acme.example>
Received: by mail.acme.example (Postfix, from userid 1000) id 4XyZ1;
\tTue, 24 Nov 2026 10:02:01 +0100 (CET)
Message-ID: <outreach.17.a1b2@acme.example>
Date: Tue, 24 Nov 2026 10:02:00 +0100
From: Rita Recruiter <rita@acme.example>
To: anna.berg@example.org
Subject: A backend role at Acme

--4XyZ1.1764000123/mail.acme.example--
""")

EXCHANGE_NDR = crlf("""\
From: Microsoft Outlook <postmaster@contoso.onmicrosoft.com>
To: <rita@acme.example>
Date: Tue, 24 Nov 2026 09:10:11 +0000
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="a1b2c3-ndr"
Content-Language: en-US
Message-ID: <a1b2c3d4-5e6f@AM6PR01MB1234.eurprd01.prod.exchangelabs.com>
Subject: Undeliverable: Backend role at Acme
Auto-Submitted: auto-replied
X-MS-Exchange-Message-Is-Ndr:
MIME-Version: 1.0

--a1b2c3-ndr
Content-Type: multipart/alternative; differences=Content-Type;
\tboundary="alt-ndr"

--alt-ndr
Content-Type: text/plain; charset="us-ascii"

Your message to erik@contoso.com couldn't be delivered.
erik wasn't found at contoso.com.

Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found'
--alt-ndr
Content-Type: text/html; charset="us-ascii"

<html><body><p>Your message to erik@contoso.com couldn't be delivered.</p></body></html>
--alt-ndr--

--a1b2c3-ndr
Content-Type: message/delivery-status

Reporting-MTA: dns;AM6PR01MB1234.eurprd01.prod.exchangelabs.com
Received-From-MTA: dns;mail.acme.example
Arrival-Date: Tue, 24 Nov 2026 09:10:10 +0000

Final-Recipient: rfc822;erik@contoso.com
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by
 SMTP address lookup

--a1b2c3-ndr
Content-Type: message/rfc822

Received: from mail.acme.example (203.0.113.9) by AM6PR01MB1234.mail.protection.outlook.com
From: Rita Recruiter <rita@acme.example>
To: erik@contoso.com
Subject: Backend role at Acme
Date: Tue, 24 Nov 2026 10:10:09 +0100
Message-ID: <outreach.23.cafe@acme.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Hi Erik, I came across your work on the payments platform.

--a1b2c3-ndr--
""")

GMAIL_DSN = crlf("""\
Return-Path: <>
X-Failed-Recipients: nosuchuser@gmail.com
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: rita@acme.example
Auto-Submitted: auto-replied
Message-ID: <5f0e1a2b.abc.def@mx.google.com>
Date: Tue, 24 Nov 2026 02:10:11 -0800 (PST)
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000f00d"; report-type=delivery-status

--000000000000f00d
Content-Type: multipart/related; boundary="000000000000f00e"

--000000000000f00e
Content-Type: multipart/alternative; boundary="000000000000f00f"

--000000000000f00f
Content-Type: text/plain; charset="UTF-8"


** Address not found **

Your message wasn't delivered to nosuchuser@gmail.com because the address couldn't be
found, or is unable to receive mail.

The response was:

The email account that you tried to reach does not exist. Please try double-checking the
recipient's email address for typos or unnecessary spaces.

--000000000000f00f
Content-Type: text/html; charset="UTF-8"

<html><body><h2>Address not found</h2></body></html>

--000000000000f00f--
--000000000000f00e--
--000000000000f00d
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; rita@acme.example
Arrival-Date: Tue, 24 Nov 2026 02:10:10 -0800 (PST)
X-Original-Message-ID: <outreach.31.beef@acme.example>

Final-Recipient: rfc822; nosuchuser@gmail.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c0b::1b, the server for the
 domain gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
Last-Attempt-Date: Tue, 24 Nov 2026 02:10:11 -0800 (PST)

--000000000000f00d
Content-Type: message/rfc822

From: Rita Recruiter <rita@acme.example>
To: nosuchuser@gmail.com
Subject: Backend role at Acme
Message-ID: <outreach.31.beef@acme.example>
Date: Tue, 24 Nov 2026 11:10:09 +0100

Hi, I came across your work.

--000000000000f00d--
""")

QMAIL_BOUNCE = crlf("""\
Return-Path: <>
Date: 24 Nov 2026 09:12:13 -0000
From: MAILER-DAEMON@mx.example.net
To: rita@acme.example
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<olle@example.net>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <rita@acme.example>
Received: (qmail 12345 invoked from network); 24 Nov 2026 09:12:12 -0000
Message-ID: <outreach.40.d00d@acme.example>
Date: Tue, 24 Nov 2026 10:12:10 +0100
From: Rita Recruiter <rita@acme.example>
To: olle@example.net
Subject: Backend role at Acme

Hi Olle, I came across your work.
""")


def _soft_dsn(action: str, status: str, subject: str) -> bytes:
    return crlf(f"""\
Return-Path: <>
From: MAILER-DAEMON@mail.acme.example (Mail Delivery System)
To: rita@acme.example
Subject: {subject}
Message-Id: <20261124.soft@mail.acme.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="soft"

--soft
Content-Type: text/plain; charset=us-ascii

<karin@example.se>: host mx.example.se[198.51.100.7] said: 452 4.2.2
    <karin@example.se>: Mailbox full (in reply to RCPT TO command)

--soft
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.acme.example

Final-Recipient: rfc822; karin@example.se
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 452 4.2.2 <karin@example.se>: Mailbox full

--soft
Content-Type: text/rfc822-headers

Message-ID: <outreach.44.f00f@acme.example>
From: Rita Recruiter <rita@acme.example>
To: karin@example.se

--soft--
""")


@pytest.mark.parametrize(
    ("raw", "recipients", "original", "reason"),
    [
        (POSTFIX_DSN, ("anna.berg@example.org",), "<outreach.17.a1b2@acme.example>", "550 5.1.1"),
        (EXCHANGE_NDR, ("erik@contoso.com",), "<outreach.23.cafe@acme.example>", "5.1.10"),
        (GMAIL_DSN, ("nosuchuser@gmail.com",), "<outreach.31.beef@acme.example>", "5.1.1"),
        (QMAIL_BOUNCE, ("olle@example.net",), "<outreach.40.d00d@acme.example>", "5.1.1"),
    ],
    ids=["postfix", "exchange", "gmail", "qmail"],
)
def test_hard_bounces(raw: bytes, recipients: tuple[str, ...], original: str, reason: str) -> None:
    result = run(raw)
    assert result.kind is Kind.BOUNCE
    assert result.permanent is True
    assert result.failed_recipients == recipients
    assert result.original_message_id == original
    assert reason in result.reason


def test_postfix_reason_is_the_diagnostic_on_one_line() -> None:
    reason = run(POSTFIX_DSN).reason
    assert reason == (
        "550 5.1.1 <anna.berg@example.org>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )


@pytest.mark.parametrize(
    ("action", "status", "subject"),
    [
        ("failed", "4.2.2", "Undelivered Mail Returned to Sender"),
        ("delayed", "4.2.2", "Delayed Mail (still being retried)"),
    ],
)
def test_mailbox_full_is_a_soft_bounce(action: str, status: str, subject: str) -> None:
    result = run(_soft_dsn(action, status, subject))
    assert result.kind is Kind.BOUNCE
    assert result.permanent is False
    assert result.failed_recipients == ("karin@example.se",)
    assert result.original_message_id == "<outreach.44.f00f@acme.example>"
    assert "4.2.2" in result.reason and "Mailbox full" in result.reason


READ_RECEIPT = crlf("""\
Return-Path: <>
From: Anna Berg <anna.berg@example.org>
To: rita@acme.example
Subject: Read: A backend role at Acme
Date: Tue, 24 Nov 2026 10:30:00 +0100
Message-ID: <mdn.1@example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification;
\tboundary="mdn-b"

--mdn-b
Content-Type: text/plain; charset=utf-8

Your message was read on Tuesday, 24 November 2026 10:30:00 +0100.

--mdn-b
Content-Type: message/disposition-notification

Reporting-UA: example.org; Microsoft Outlook 16.0
Final-Recipient: rfc822;anna.berg@example.org
Original-Message-ID: <outreach.17.a1b2@acme.example>
Disposition: manual-action/MDN-sent-manually; displayed

--mdn-b--
""")


def test_read_receipt_links_our_message() -> None:
    result = run(READ_RECEIPT)
    assert result.kind is Kind.READ_RECEIPT
    assert result.original_message_id == "<outreach.17.a1b2@acme.example>"
    assert result.reason == "read receipt: manual-action/MDN-sent-manually; displayed"


COMPLAINT = crlf("""\
From: Mail Antispam Feedback <feedback@arf.mail.example.com>
To: abuse@acme.example
Subject: FW: Backend role at Acme
Message-ID: <arf.77@arf.mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP 203.0.113.9.

--arf
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/2.0
Version: 1
Original-Mail-From: <rita@acme.example>

--arf
Content-Type: text/rfc822-headers

From: Rita Recruiter <rita@acme.example>
Message-ID: <outreach.50.aaaa@acme.example>
Subject: Backend role at Acme

--arf--
""")


def test_spam_complaint() -> None:
    result = run(COMPLAINT)
    assert result.kind is Kind.COMPLAINT
    assert result.original_message_id == "<outreach.50.aaaa@acme.example>"
    assert result.reason == "spam complaint (abuse)"


def _auto(headers: str, subject: str, body: str) -> bytes:
    return crlf(
        f"From: Anna Berg <anna.berg@example.org>\nTo: rita@acme.example\n"
        f"Message-ID: <auto.1@example.org>\n"
        f"In-Reply-To: <outreach.17.a1b2@acme.example>\n"
        f"Date: Fri, 20 Nov 2026 08:00:00 +0100\n{headers}"
        f"Subject: {subject}\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )


@pytest.mark.parametrize(
    ("headers", "subject", "body", "expected"),
    [
        (
            "Return-Path: <>\nAuto-Submitted: auto-replied\nPrecedence: bulk\n",
            "Out of Office: A backend role at Acme",
            "Hi, I'm out of the office with limited access to email and back on December 2.\n"
            "For urgent matters, contact jobs@example.org.",
            date(2026, 12, 2),
        ),
        (
            "",
            "Autosvar: Backend-roll på Acme",
            "Hej! Jag är på semester och åter 2/12. Vid brådskande ärenden, ring växeln.",
            date(2026, 12, 2),
        ),
        (
            "X-Autoreply: yes\n",
            "Abwesenheitsnotiz: Backend-Rolle bei Acme",
            "Vielen Dank für Ihre Nachricht. Ich bin bis zum 02.12.2026 nicht im Büro und\n"
            "habe keinen Zugriff auf meine E-Mails.",
            date(2026, 12, 2),
        ),
        (
            "X-Autorespond: yes\n",
            "=?utf-8?q?R=C3=A9ponse_automatique_=3A_Poste_backend?=",
            "Bonjour, je suis absente du bureau du 16 novembre au 2 décembre 2026 inclus.\n"
            "Je serai de retour le 3 décembre.",
            date(2026, 12, 3),
        ),
        (
            "Auto-Submitted: auto-generated\n",
            "Fraværende: Backend-rolle",
            "Jeg er på ferie og tilbake 30.11.",
            date(2026, 11, 30),
        ),
        (
            "Precedence: auto_reply\n",
            "Re: Backend role",
            "Out of office until 2026-12-02 (ISO, like the calendar says).",
            date(2026, 12, 2),
        ),
    ],
    ids=["english-gmail", "swedish", "german", "french", "norwegian", "iso"],
)
def test_out_of_office_with_return_date(
    headers: str, subject: str, body: str, expected: date
) -> None:
    result = run(_auto(headers, subject, body))
    assert result.kind is Kind.AUTO_REPLY
    assert result.return_date == expected
    assert result.reason == f"out of office until {expected.isoformat()}"


def test_outlook_automatic_reply_without_a_date() -> None:
    raw = _auto(
        "X-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: anna.berg@example.org\n"
        "Thread-Topic: Backend role at Acme\n",
        "Automatic reply: Backend role at Acme",
        "I'm currently out of the office with limited access to email. I will respond as soon "
        "as possible.",
    )
    result = run(raw)
    assert result.kind is Kind.AUTO_REPLY
    assert result.return_date is None
    assert result.reason == "automatic reply"


def test_exchange_suppress_header_alone_is_not_an_auto_reply() -> None:
    raw = _auto("X-Auto-Response-Suppress: All\n", "RE: Backend role", "Sounds good, call me.")
    assert run(raw).kind is Kind.HUMAN


def test_auto_reply_past_and_unclear_dates_give_no_return_date() -> None:
    raw = _auto("Auto-Submitted: auto-replied\n", "Out of office", "I was away 3 November.")
    assert run(raw).return_date is None


def _calendar(method_param: str, partstat: str, subject: str) -> bytes:
    ics = (
        "BEGIN:VCALENDAR\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\nVERSION:2.0\n"
        "CALSCALE:GREGORIAN\nMETHOD:REPLY\nBEGIN:VEVENT\nDTSTART:20261201T090000Z\n"
        "DTEND:20261201T100000Z\nUID:interview-17@acme.example\n"
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};CN=Anna Berg:"
        "mailto:anna.berg@example.org\nSUMMARY:Interview with Acme\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    attached = base64.encodebytes(ics.encode()).decode()
    return crlf(f"""\
From: Anna Berg <anna.berg@example.org>
To: rita@acme.example
Subject: {subject}
Message-ID: <cal.{partstat}@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="cal-mixed"

--cal-mixed
Content-Type: multipart/alternative; boundary="cal-alt"

--cal-alt
Content-Type: text/plain; charset="UTF-8"

Anna Berg has answered this invitation.
--cal-alt
Content-Type: text/calendar; charset="UTF-8"{method_param}

{ics}
--cal-alt--
--cal-mixed
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

{attached}
--cal-mixed--
""")


@pytest.mark.parametrize(
    ("method_param", "partstat", "subject"),
    [
        ("; method=REPLY", "ACCEPTED", "Accepted: Interview with Acme @ Tue 1 Dec 2026 10:00"),
        ("", "DECLINED", "Declined: Interview with Acme"),
    ],
)
def test_calendar_reply(method_param: str, partstat: str, subject: str) -> None:
    result = run(_calendar(method_param, partstat, subject))
    assert result.kind is Kind.CALENDAR_REPLY
    assert result.reason == f"calendar reply: {partstat.lower()}"


def _reply(body: str) -> bytes:
    return crlf(
        "From: Anna Berg <anna.berg@example.org>\nTo: rita@acme.example\n"
        "Subject: Re: Backend role at Acme\nMessage-ID: <r@example.org>\n"
        "In-Reply-To: <outreach.17.a1b2@acme.example>\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Unsubscribe",
        "STOP",
        "Please remove me from your list.",
        "Thanks, but I'm not interested.",
        "No thanks",
        "Not interested, thanks.\nAnna",
        "Nej tack, inte intresserad.",
        "Ta bort mig från listan",
        "Kein Interesse, danke.",
        "Bitte entfernen Sie mich aus Ihrer Liste.",
        "Non merci, je ne suis pas intéressée.",
        "No me interesa, gracias.",
        "Afmelden aub",
        "Nee bedankt, geen interesse.",
        "Ikke interessert, takk.",
        "Nej tak, ikke interesseret.",
        "Ei kiinnosta, kiitos.",
    ],
)
def test_short_opt_outs(text: str) -> None:
    result = run(_reply(text), reply_text=text)
    assert result.kind is Kind.OPT_OUT
    assert result.reason.startswith("opt-out: ")


@pytest.mark.parametrize(
    "text",
    [
        "Not interested right now, but keep me in mind for next year",
        "Hi Rita, thanks for reaching out. I'm happy where I am, so please remove me from your "
        "list for now; if a staff role in Gothenburg comes up I might listen.",
        "Inte intresserad just nu, men hör gärna av dig i vår.",
        "Kein Interesse an einem Umzug, aber remote?",
        "Not interested in relocating",
    ],
)
def test_hedged_or_long_opt_outs_go_to_the_recruiter(text: str) -> None:
    result = run(_reply(text), reply_text=text)
    assert result.kind is Kind.OPT_OUT_UNCLEAR
    assert "please read" in result.reason


MAILING_LIST = crlf("""\
From: Olle Ek <olle@example.net>
To: devs@lists.example.org
Subject: [devs] Anyone hiring in Malmö?
Message-ID: <list.1@example.net>
List-Id: Developers in Skåne <devs.lists.example.org>
List-Unsubscribe: <https://lists.example.org/mailman/options/devs>,
 <mailto:devs-request@lists.example.org?subject=unsubscribe>
List-Post: <mailto:devs@lists.example.org>
Precedence: list
Content-Type: text/plain; charset=utf-8

Hi all, is anyone hiring backend developers in Malmö?
""")


def test_mailing_list_post() -> None:
    result = run(MAILING_LIST)
    assert result.kind is Kind.MAILING_LIST
    assert "devs.lists.example.org" in result.reason


def test_bulk_mail_with_unsubscribe_link_is_a_list() -> None:
    raw = crlf(
        "From: news@jobs.example\nTo: rita@acme.example\nSubject: Weekly digest\n"
        "List-Unsubscribe: <https://jobs.example/u/123>\nPrecedence: bulk\n\nNew roles.\n"
    )
    assert run(raw).kind is Kind.MAILING_LIST


@pytest.mark.parametrize(
    "text",
    [
        "Sounds interesting! Can we talk Thursday at 10?",
        "Hej! Absolut, jag är intresserad. Ring mig på torsdag.",
        "I'm back from vacation on 2 December, let's talk then.",
        "I can't stop thinking about this role, tell me more about the team and the salary.",
        "",
    ],
)
def test_human_replies(text: str) -> None:
    result = run(_reply(text), reply_text=text)
    assert result == Classification(Kind.HUMAN)


def test_human_reply_with_empty_return_path_is_not_a_bounce() -> None:
    raw = b"Return-Path: <>\r\n" + _reply("Yes, let's talk on Monday.")
    assert run(raw).kind is Kind.HUMAN


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500), st.text(max_size=200))
def test_classify_never_raises(raw: bytes, reply_text: str) -> None:
    result = classify(parse_message(raw), reply_text, today=TODAY)
    assert isinstance(result.kind, Kind)
