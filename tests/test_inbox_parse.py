"""Parsing incoming mail: decoded fields, and never an exception on broken input."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.inbox.parse import parse_message
from outreach.mail.subjects import normalise_subject


def crlf(text: str, charset: str = "utf-8") -> bytes:
    """Literal message text as the bytes a server delivers (CRLF line ends)."""
    return text.replace("\n", "\r\n").encode(charset)


REPLY = crlf("""\
Return-Path: <anna.berg@example.org>
Received: from mail.example.org (mail.example.org [203.0.113.5])
\tby mx.acme.example (Postfix) with ESMTPS id 4Xy; Tue, 24 Nov 2026 10:02:03 +0100
Message-ID: <CAF=x7Q@mail.gmail.com>
In-Reply-To: <outreach.17.a1b2@acme.example>
References: <outreach.12.ffee@acme.example>
 <outreach.17.a1b2@acme.example>
From: =?UTF-8?Q?Anna_Bergstr=C3=B6m?= <Anna.Berg@Example.ORG>
To: "Recruiter, Rita" <rita@acme.example>, team@acme.example
Cc: =?iso-8859-1?q?J=F6rg?= <joerg@acme.example>
Date: Tue, 24 Nov 2026 10:02:01 +0100
Subject: =?UTF-8?Q?Re:_Backend-roll_p=C3=A5?= =?UTF-8?Q?_Acme?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000abcd"

--000000000000abcd
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Hej Rita, l=C3=A5ter sp=C3=A4nnande!

--000000000000abcd
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Hej Rita, l=C3=A5ter sp=C3=A4nnande!</div>

--000000000000abcd--
""")


def test_reply_fields_are_decoded_and_normalised() -> None:
    parsed = parse_message(REPLY)
    assert parsed.message_id == "<CAF=x7Q@mail.gmail.com>"
    assert parsed.in_reply_to == ["<outreach.17.a1b2@acme.example>"]
    assert parsed.references == [
        "<outreach.12.ffee@acme.example>",
        "<outreach.17.a1b2@acme.example>",
    ]
    assert parsed.from_addr == "anna.berg@example.org"
    assert parsed.from_name == "Anna Bergström"
    assert parsed.to == ["rita@acme.example", "team@acme.example"]
    assert parsed.cc == ["joerg@acme.example"]
    assert parsed.date == datetime(2026, 11, 24, 9, 2, 1, tzinfo=UTC)
    assert parsed.subject == "Re: Backend-roll på Acme"
    assert parsed.text is not None and parsed.text.strip() == "Hej Rita, låter spännande!"
    assert parsed.html is not None and "<div" in parsed.html and "låter" in parsed.html
    assert parsed.content_type == "multipart/alternative"
    assert parsed.attachments == []
    assert parsed.flags == []
    assert parsed.headers["return-path"] == "<anna.berg@example.org>"


def test_date_without_zone_is_utc_and_a_bad_date_is_none() -> None:
    naive = parse_message(b"Date: Tue, 24 Nov 2026 10:02:01\r\nSubject: x\r\n\r\nhi\r\n")
    assert naive.date == datetime(2026, 11, 24, 10, 2, 1, tzinfo=UTC)
    zoned = parse_message(b"Date: Tue, 24 Nov 2026 10:02:01 -0500\r\n\r\nhi\r\n")
    assert zoned.date is not None and zoned.date.utcoffset() == timedelta(hours=-5)
    assert zoned.date == datetime(2026, 11, 24, 10, 2, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_message(b"Date: next tuesday-ish\r\n\r\nhi\r\n").date is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Message-ID: <abc@x.example>", "<abc@x.example>"),
        (b"Message-Id:   abc@x.example  ", "<abc@x.example>"),
        (b"Message-ID:\r\n <folded@x.example>", "<folded@x.example>"),
    ],
)
def test_message_id_is_normalised(header: bytes, expected: str) -> None:
    parsed = parse_message(header + b"\r\nSubject: hi\r\n\r\nbody\r\n")
    assert parsed.message_id == expected
    assert "missing-message-id" not in parsed.flags


def test_missing_message_id_is_flagged() -> None:
    parsed = parse_message(b"From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n")
    assert parsed.message_id is None
    assert "missing-message-id" in parsed.flags
    assert parsed.text == "body\n"


def test_html_only_message_has_no_text() -> None:
    raw = crlf("""\
Message-ID: <h@x>
Content-Type: text/html; charset=utf-8

<p>Gärna!</p>
""")
    parsed = parse_message(raw)
    assert parsed.text is None
    assert parsed.html is not None and "Gärna!" in parsed.html
    assert "no-body" not in parsed.flags


@pytest.mark.parametrize(
    "raw",
    [
        # The closing boundary never comes.
        crlf("""\
Message-ID: <m1@x>
Content-Type: multipart/mixed; boundary="BOUND"

--BOUND
Content-Type: text/plain; charset=utf-8

Tack för mejlet, jag hör av mig.
"""),
        # The declared boundary does not match the one used.
        crlf("""\
Message-ID: <m2@x>
Content-Type: multipart/mixed; boundary="DECLARED"

--OTHER
Content-Type: text/plain; charset=utf-8

Tack för mejlet, jag hör av mig.
--OTHER--
"""),
        # Multipart without any boundary parameter.
        crlf("""\
Message-ID: <m3@x>
Content-Type: multipart/mixed

Tack för mejlet, jag hör av mig.
"""),
    ],
    ids=["missing-end-boundary", "bad-boundary", "no-boundary"],
)
def test_malformed_mime_is_flagged_and_text_survives(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert "malformed-mime" in parsed.flags
    found = (parsed.text or "") + (parsed.html or "")
    assert "Tack för mejlet" in found or "Tack f" in found


@pytest.mark.parametrize("charset", ["x-unknown", "utf-8; format=flowed", "base64"])
def test_unknown_charset_decodes_and_flags(charset: str) -> None:
    raw = crlf(f'Message-ID: <c@x>\nContent-Type: text/plain; charset="{charset}"\n\nHej där!\n')
    parsed = parse_message(raw)
    assert "unknown-charset" in parsed.flags
    assert parsed.text is not None and parsed.text.strip() == "Hej där!"


def test_declared_latin1_that_is_really_utf8_and_real_cp1252() -> None:
    mislabelled = crlf("Content-Type: text/plain; charset=iso-8859-1\n\nGrüße\n")
    assert (parse_message(mislabelled).text or "").strip() == "Grüße"
    latin = crlf("Content-Type: text/plain; charset=windows-1252\n\nGrüße – bis bald\n", "cp1252")
    assert (parse_message(latin).text or "").strip() == "Grüße – bis bald"
    shift_jis = crlf("Content-Type: text/plain; charset=shift_jis\n\nありがとう\n", "shift_jis")
    assert (parse_message(shift_jis).text or "").strip() == "ありがとう"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (b"=?utf-8?B?SGVqIGTDpHI!!?=", "Hej där"),
        (b"=?utf-8?Q?Hej_d=C3=A4r", "=?utf-8?Q?Hej_d=C3=A4r"),
        (b"=?x-made-up?Q?Hej?= there", "Hej there"),
        (b"=?utf-8?Q?caf=E9?=", "café"),
    ],
    ids=["bad-base64", "unterminated", "unknown-charset", "invalid-bytes"],
)
def test_broken_encoded_words_are_flagged_but_give_text(subject: bytes, expected: str) -> None:
    parsed = parse_message(b"Message-ID: <e@x>\r\nSubject: " + subject + b"\r\n\r\nhi\r\n")
    assert "bad-encoded-word" in parsed.flags
    assert parsed.subject == expected


def test_eight_bit_headers_are_decoded() -> None:
    raw = crlf("From: Åsa Öberg <asa@example.se>\nSubject: Svar på frågan\n\nJa.\n")
    parsed = parse_message(raw)
    assert parsed.from_name == "Åsa Öberg"
    assert parsed.subject == "Svar på frågan"
    assert "8bit-header" in parsed.flags
    latin = parse_message("Subject: Grüße aus Köln\r\n\r\nJa.\r\n".encode("latin-1"))
    assert latin.subject == "Grüße aus Köln"


def test_attachments_keep_only_name_and_size() -> None:
    pdf = base64.encodebytes(b"%PDF-1.7 " + b"x" * 1000).decode()
    raw = crlf(f"""\
Message-ID: <a@x>
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Mitt CV bifogas.
--b1
Content-Type: application/pdf; name="=?utf-8?Q?CV_=C3=85sa.pdf?="
Content-Disposition: attachment; filename*=utf-8''CV%20%C3%85sa.pdf
Content-Transfer-Encoding: base64

{pdf}
--b1
Content-Type: image/png
Content-Disposition: inline
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--b1--
""")
    parsed = parse_message(raw)
    assert parsed.attachments == [("CV Åsa.pdf", 1009), ("", 8)]
    assert (parsed.text or "").strip() == "Mitt CV bifogas."


def test_huge_attachment_is_measured_flagged_and_not_kept() -> None:
    size = 20_000_000
    blob = base64.encodebytes(bytes(size)).decode()
    raw = crlf(f"""\
Message-ID: <big@x>
Subject: Portfolio
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: text/plain; charset=utf-8

Here is my portfolio.
--b2
Content-Type: application/zip
Content-Disposition: attachment; filename="portfolio.zip"
Content-Transfer-Encoding: base64

{blob}
--b2--
""")
    parsed = parse_message(raw)
    assert parsed.attachments == [("portfolio.zip", size)]
    assert "huge-attachment" in parsed.flags
    assert (parsed.text or "").strip() == "Here is my portfolio."
    kept = [p for p in parsed.message.walk() if p.get_content_type() == "application/zip"]
    assert len(kept) == 1 and kept[0].get_payload() == ""


def test_huge_text_body_is_truncated_and_flagged() -> None:
    raw = b"Message-ID: <t@x>\r\nContent-Type: text/plain\r\n\r\n" + b"a" * 3000
    parsed = parse_message(raw, max_body_bytes=1000)
    assert "huge-body" in parsed.flags
    assert parsed.text == "a" * 1000


def test_empty_message() -> None:
    parsed = parse_message(b"")
    assert parsed.message_id is None
    assert parsed.subject == ""
    assert parsed.from_addr is None
    assert parsed.to == [] and parsed.attachments == []
    assert {"missing-message-id", "no-body"} <= set(parsed.flags)


def test_bounce_body_prefers_the_notification_over_the_returned_message() -> None:
    raw = crlf("""\
Message-ID: <n@x>
Content-Type: multipart/mixed; boundary="r"

--r
Content-Type: text/plain

Your message could not be delivered.
--r
Content-Type: message/rfc822

Message-ID: <orig@acme.example>
Subject: Hello

Original text.
--r--
""")
    parsed = parse_message(raw)
    assert (parsed.text or "").strip() == "Your message could not be delivered."
    assert parsed.attachments == []


def test_parse_a_header_block_as_an_imap_header_fetch_returns_it() -> None:
    raw = crlf("""\
Message-ID: <CAF=x7Q@mail.gmail.com>
In-Reply-To: <outreach.17.a1b2@acme.example>
From: Anna <anna@example.org>
Subject: Re: Backend role
Auto-Submitted: auto-replied
List-Id: <devs.lists.example.org>

""")
    parsed = parse_message(raw)
    assert parsed.message_id == "<CAF=x7Q@mail.gmail.com>"
    assert parsed.in_reply_to == ["<outreach.17.a1b2@acme.example>"]
    assert parsed.from_addr == "anna@example.org"
    assert parsed.headers["auto-submitted"] == "auto-replied"
    assert parsed.headers["list-id"] == "<devs.lists.example.org>"
    assert parsed.text == "" and parsed.html is None and "no-body" in parsed.flags


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Backend role", "backend role"),
        ("RE: Fwd: SV:  AW: Backend   role", "backend role"),
        ("Re[2]: Re: Backend role", "backend role"),
        ("Sv: VS: Antw: WG: Vs: TR: RE : Backend role", "backend role"),
        ("Réf : Backend role", "backend role"),
        ("[EXTERNAL] Re: Backend role", "backend role"),
        ("Backend role: Re: details", "backend role: re: details"),
        ("Recruiting update", "recruiting update"),
        ("", ""),
    ],
)
def test_normalise_subject(subject: str, expected: str) -> None:
    assert normalise_subject(subject) == expected


@given(st.text(max_size=80))
def test_normalise_subject_is_idempotent(subject: str) -> None:
    once = normalise_subject(subject)
    assert normalise_subject(once) == once


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_message_never_raises_on_random_bytes(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert isinstance(parsed.subject, str)
    assert "parse-error" not in parsed.flags


_HEADER_LINES = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=",
        b"Content-Type: text/plain; charset=",
        b"Content-Type: message/rfc822",
        b"Content-Type: multipart/report; report-type=delivery-status",
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Disposition: attachment; filename*=",
        b"Subject: =?",
        b"From: ",
        b"To: ",
        b"Date: ",
        b"Message-ID: <",
        b"References: ",
        b"--",
        b"",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_HEADER_LINES, st.binary(max_size=40)), max_size=30))
def test_parse_message_never_raises_on_mime_shaped_garbage(
    lines: list[tuple[bytes, bytes]],
) -> None:
    raw = b"\r\n".join(prefix + tail for prefix, tail in lines)
    parsed = parse_message(raw)
    assert "parse-error" not in parsed.flags
