"""MIME building: what arrives at a real SMTP server parses back to what the draft said."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from html.parser import HTMLParser
from typing import Any

import pytest

from outreach.errors import SendError
from outreach.mail.check import check_message
from outreach.mail.messages import (
    Outgoing,
    checked,
    message_bytes,
    new_message_id,
    restamp,
)
from outreach.mail.subjects import reply_subject
from outreach.servers.smtp import Accepted, SmtpConnection
from tests.services import smtp as services
from tests.services.smtp import CaptureServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory

STOCKHOLM = timezone(timedelta(hours=2))
BASE = Outgoing(
    from_name="Åsa Öberg",
    from_email="asa@recruit.example",
    to_name="Kim Lindqvist",
    to_email="kim@example.com",
    subject="Återkoppling – intervju",
    body_text=(
        "Hej Kim,\n\nTack för **intervjun** i går.\n.en rad med punkt\n\nVänliga hälsningar\nÅsa"
    ),
    message_id="<abc.123@recruit.example>",
    date=datetime(2024, 5, 14, 9, 30, tzinfo=STOCKHOLM),
)


class Tags(HTMLParser):
    """Collect every start tag and its attributes, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


def text(part: MIMEPart) -> str:
    """The decoded content of a text part, with the wire's CRLF as newlines."""
    content: str = part.get_content()
    return content.replace("\r\n", "\n")


def changes(field: str, value: str) -> dict[str, Any]:
    return {field: value}


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


async def deliver(server: CaptureServer, out: Outgoing) -> bytes:
    """Send the built message through a real SMTP server and return the bytes that arrived."""
    data = message_bytes(out)
    async with SmtpConnection(server.settings()) as conn:
        assert isinstance(await conn.send(out.from_email, [out.to_email], data), Accepted)
    [received] = server.messages
    assert received.data == data  # frozen bytes == bytes on the server
    return received.data


async def test_headers_arrive_intact(smtp_capture: CaptureServer) -> None:
    out = replace(
        BASE,
        in_reply_to="<their.1@example.com>",
        references=("<abc.0@recruit.example>", "<their.1@example.com>"),
        reply_to="jobs@recruit.example",
    )
    msg = parse(await deliver(smtp_capture, out))
    assert msg["From"].addresses[0].display_name == "Åsa Öberg"
    assert msg["From"].addresses[0].addr_spec == "asa@recruit.example"
    assert msg["To"].addresses[0].display_name == "Kim Lindqvist"
    assert msg["Subject"] == "Återkoppling – intervju"
    assert msg["Date"].datetime == BASE.date
    assert msg["Message-ID"] == "<abc.123@recruit.example>"
    assert msg["In-Reply-To"] == "<their.1@example.com>"
    assert msg["References"] == "<abc.0@recruit.example> <their.1@example.com>"
    assert msg["Reply-To"] == "jobs@recruit.example"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert text(msg) == BASE.body_text + "\n"
    assert "X-Mailer" not in msg and "Auto-Submitted" not in msg


def test_bytes_are_7bit_crlf_and_short_lines() -> None:
    data = message_bytes(replace(BASE, body_text="å" * 3000, html=True))
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    raw_headers = data.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in raw_headers  # names and subject as RFC 2047 encoded words
    assert b"\xc3" not in raw_headers


def test_display_name_with_specials_is_quoted() -> None:
    msg = parse(message_bytes(replace(BASE, to_name='Lindqvist, Kim "KL"')))
    assert msg["To"].addresses[0].display_name == 'Lindqvist, Kim "KL"'
    assert msg["To"].addresses[0].addr_spec == "kim@example.com"


async def test_html_alternative_is_sanitised(smtp_capture: CaptureServer) -> None:
    body = (
        "Hej **Kim**,\n<script>alert('x')</script>\n<img src=x onerror=alert(1)>\n"
        "[länk](javascript:alert(1)) och [jobbet](https://recruit.example/jobb)"
    )
    msg = parse(await deliver(smtp_capture, replace(BASE, body_text=body, html=True)))
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert text(plain) == body + "\n"  # the text part keeps what the human approved
    assert html.get_content_type() == "text/html"
    markup = text(html)
    assert "<strong>Kim</strong>" in markup
    assert '<a href="https://recruit.example/jobb" rel="noopener noreferrer">jobbet</a>' in markup
    tags = Tags()
    tags.feed(markup)
    assert {tag for tag, _ in tags.seen} <= {
        "html",
        "head",
        "meta",
        "body",
        "p",
        "br",
        "strong",
        "a",
    }
    assert all(not name.startswith("on") for _, attrs in tags.seen for name, _ in attrs)
    assert [value for tag, attrs in tags.seen for name, value in attrs if name == "href"] == [
        "https://recruit.example/jobb"
    ]
    assert "&lt;script&gt;" in markup  # shown as text, never run
    assert "MIME-Version" not in html


def test_long_references_fold_between_ids_not_into_encoded_words() -> None:
    refs = tuple(f"<{'x' * 60}.{n}@mail.example.com>" for n in range(12))
    data = message_bytes(replace(BASE, references=refs, in_reply_to=refs[-1]))
    raw_headers = data.split(b"\r\n\r\n", 1)[0].decode()
    assert "=?utf-8?q?=3C" not in raw_headers
    msg = parse(data)
    assert msg["References"].split() == list(refs)
    assert msg["In-Reply-To"] == refs[-1]


def test_message_id_is_on_the_sender_domain() -> None:
    msg_id = new_message_id("asa@recruit.example")
    assert msg_id.startswith("<") and msg_id.endswith("@recruit.example>")
    assert new_message_id("asa@recruit.example") != msg_id
    assert new_message_id("asa@bücher.example").endswith("@xn--bcher-kva.example>")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("subject", "Hej\r\nBcc: eve@evil.example", "subject of draft contains a line break"),
        ("subject", "Hej\nthere", "edit the subject"),
        ("to_name", "Eve\r\nBcc: x@y.example", "recipient name"),
        ("from_name", "Åsa\u2028Öberg", "sender name"),
        ("to_name", "Kim\x00", "control character"),
        ("to_email", "kim@example.com\r\nBcc: x@y.example", "recipient address"),
        ("from_email", "asa@recruit.example\n", "sender address"),
        ("message_id", "<a@b.example>\r\nBcc: x@y.example", "message id"),
        ("in_reply_to", "<a@b.example>\nBcc: x@y.example", "in-reply-to"),
        ("reply_to", "jobs@recruit.example\rX: y", "reply-to"),
    ],
)
def test_header_injection_is_refused(field: str, value: str, words: str) -> None:
    with pytest.raises(SendError, match=words):
        message_bytes(replace(BASE, **changes(field, value)))


def test_injected_reference_is_refused() -> None:
    with pytest.raises(SendError, match="references"):
        message_bytes(replace(BASE, references=("<a@b.example>", "<c@d>\r\nBcc: x@y.example")))


@pytest.mark.parametrize(
    ("field", "value"),
    [("to_email", "not an address"), ("to_email", "kim@"), ("from_email", "åsa@example.com")],
)
def test_invalid_addresses_are_refused(field: str, value: str) -> None:
    with pytest.raises(SendError, match="not a valid email address"):
        message_bytes(replace(BASE, **changes(field, value)))


@pytest.mark.parametrize("msg_id", ["abc.123@recruit.example", "<abc.123@recruit.example>"])
def test_message_id_gets_angle_brackets(msg_id: str) -> None:
    assert parse(message_bytes(replace(BASE, message_id=msg_id)))["Message-ID"] == (
        "<abc.123@recruit.example>"
    )


@pytest.mark.parametrize("msg_id", ["<no-domain>", "<a b@c.example>", "<a@b@c>"])
def test_bad_message_id_is_refused(msg_id: str) -> None:
    with pytest.raises(SendError, match="message id"):
        message_bytes(replace(BASE, message_id=msg_id))


def test_naive_date_is_refused() -> None:
    with pytest.raises(SendError, match="timezone"):
        message_bytes(replace(BASE, date=datetime(2024, 5, 14, 9, 30)))


def test_date_header_keeps_the_offset() -> None:
    data = message_bytes(replace(BASE, date=datetime(2024, 1, 2, 3, 4, tzinfo=UTC)))
    assert b"Date: Tue, 02 Jan 2024 03:04:00 +0000\r\n" in data


def test_restamp_redates_only_a_stale_date_and_nothing_else() -> None:
    body = "Hi,\nDate: Tue, 14 May 2024 09:30:00 +0200\nin the body stays"
    data = message_bytes(replace(BASE, body_text=body))
    sent_at = BASE.date + timedelta(hours=3)
    redated = restamp(data, sent_at)
    assert parse(redated)["Date"].datetime == sent_at
    old_line, new_line = (
        b"Date: Tue, 14 May 2024 09:30:00 +0200",
        b"Date: Tue, 14 May 2024 12:30:00 +0200",
    )
    assert redated.replace(new_line, old_line) == data  # one header changed, the body untouched
    assert redated.count(b"Date: ") == data.count(b"Date: ")
    assert restamp(data, BASE.date + timedelta(minutes=4)) is data


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            b"Subject: x\r\nDate: someday\r\n",
            b"Subject: x\r\nDate: Mon, 01 Mar 2027 10:00:00 +0000\r\n",
        ),
        (
            b"Date: Mon, 01 Mar 2027 09:58:00 +0000\r\n",
            b"Date: Mon, 01 Mar 2027 09:58:00 +0000\r\n",
        ),
        (b"Subject: no date\r\n", b"Subject: no date\r\n"),
    ],
)
def test_restamp_of_odd_heads(head: bytes, expected: bytes) -> None:
    when = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    assert (
        restamp(head + b"\r\nDate: in the body\r\n", when)
        == expected + b"\r\nDate: in the body\r\n"
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Intervju", "Re: Intervju"),
        ("Re: Intervju", "Re: Intervju"),
        ("RE: Intervju", "RE: Intervju"),
        ("Sv: Intervju", "Sv: Intervju"),
        ("AW: Interview", "AW: Interview"),
        ("Re[2]: Intervju", "Re[2]: Intervju"),
        ("  Intervju  ", "Re: Intervju"),
        ("Fwd: Intervju", "Re: Fwd: Intervju"),
        ("Reply needed", "Re: Reply needed"),
        ("", "Re:"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


LOOKALIKE = "=?utf-8?q?Kim=0D=0ABcc:_eve@evil.example=0D=0A=0D=0A<b>other</b>?="


@pytest.mark.parametrize("field", ["to_name", "from_name", "subject"])
async def test_text_that_looks_like_an_encoded_word_arrives_as_that_text(
    smtp_capture: CaptureServer, field: str
) -> None:
    msg = parse(await deliver(smtp_capture, replace(BASE, **changes(field, LOOKALIKE))))
    assert sorted(msg.keys()) == sorted(
        ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
         "Content-Transfer-Encoding"]
    )  # fmt: skip
    seen = {
        "to_name": msg["To"].addresses[0].display_name,
        "from_name": msg["From"].addresses[0].display_name,
        "subject": str(msg["Subject"]),
    }
    assert seen[field] == LOOKALIKE
    assert text(msg) == BASE.body_text + "\n"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to_email", "=?utf-8?q?x=0D=0A?=@example.com"),
        ("in_reply_to", "<=?utf-8?q?x=0D=0AX-A:_b?=@example.com>"),
        ("message_id", "<=?utf-8?q?x?=@recruit.example>"),
    ],
)
def test_addresses_and_ids_that_look_like_encoded_words_are_refused(field: str, value: str) -> None:
    with pytest.raises(SendError, match="looks like an RFC 2047 encoded word"):
        message_bytes(replace(BASE, **changes(field, value)))


def test_runs_of_spaces_in_a_name_become_one() -> None:
    msg = parse(message_bytes(replace(BASE, to_name="Kim \u00a0 Lindqvist")))
    assert msg["To"].addresses[0].display_name == "Kim Lindqvist"


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (lambda d: d.replace(b"Subject:", b"Reply-To: eve@evil.example\r\nSubject:"), "headers"),
        (lambda d: d.replace(b"To: Kim Lindqvist", b"To: Kim <eve@evil.example>, Lindqvist"), "To"),
        (lambda d: d.replace(b"Kim,", b"Eve,"), "body other than the approved one"),
        (lambda d: d.replace(b"text/plain", b"text/html"), "text/html part"),
        (lambda d: d.replace(b"Subject: ", b"Subject: =?utf-8?q?x?= "), "Subject"),
    ],
)
def test_bytes_that_do_not_read_back_as_approved_are_refused(tamper: Any, words: str) -> None:
    fields = checked(BASE)
    data = message_bytes(BASE)
    check_message(data, fields, None)  # the built bytes pass
    with pytest.raises(SendError, match=words):
        check_message(tamper(data), fields, None)
