"""Header fields written by hand read back, with the standard library's parser, as exactly the data."""

from __future__ import annotations

import random
from email import policy
from email.parser import BytesParser

import pytest

from outreach.mail import headers

PARSER = BytesParser(policy=policy.default)
ADDRESS = "ivan@example.com"
# Pieces that have broken header writers: encoded-word lookalikes with CR/LF inside, address
# syntax, quotes and escapes, comments, non-ASCII of every width, long runs, odd spaces.
PIECES = [
    "=?utf-8?q?", "?=", "=0D=0A", "Reply-To:", " ", "  ", "<", ">", ",", '"', "\\", "(", ")",
    ":", ";", "@", "attacker@evil.example", "å", "Ж", "山", "🙂", "=?", "?", "_", "Ivan",
    "Petrov", "=?utf-8?b?SGk=?=", "'", ".", "[", "]", "a" * 30, "é" * 20, "\u00a0", "\u2003",
    "\u200b", "\ufeff", "\u0301",
]  # fmt: skip


def read_back(field: str) -> tuple[list[str], object]:
    msg = PARSER.parsebytes(field.encode("ascii") + b"\r\nbody\r\n")
    (name,) = msg.keys()
    return list(msg.keys()), msg[name]


def samples(count: int) -> list[str]:
    rnd = random.Random(11)  # the same texts on every run
    texts = ["".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 12))) for _ in range(count)]
    return [text.strip() for text in texts if text.strip()]


def test_any_subject_reads_back_as_itself() -> None:
    for text in samples(3000):
        field = headers.text_field("Subject", text)
        names, value = read_back(field)
        assert (names, str(value)) == (["Subject"], text), field
        assert all(len(line) <= 78 for line in field.split("\r\n"))


def test_any_display_name_reads_back_as_itself_and_one_address() -> None:
    for text in samples(3000):
        name = " ".join(text.split())  # messages.checked collapses runs of spaces in names
        field = headers.address_field("To", name, ADDRESS)
        names, value = read_back(field)
        found = [(a.display_name, a.addr_spec) for a in getattr(value, "addresses", ())]
        assert (names, found) == (["To"], [(name, ADDRESS)]), field
        assert all(len(line) <= 998 for line in field.split("\r\n"))


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Jamie Doe", "To: Jamie Doe <ivan@example.com>\r\n"),
        ("Doe, Jamie", 'To: "Doe, Jamie" <ivan@example.com>\r\n'),
        ('Jamie "JD" Doe', 'To: "Jamie \\"JD\\" Doe" <ivan@example.com>\r\n'),
        ("", "To: ivan@example.com\r\n"),
        ("Åsa", "To: =?utf-8?b?w4VzYQ==?= <ivan@example.com>\r\n"),
        ("=?utf-8?q?x?=", "To: =?utf-8?b?PT91dGYtOD9xP3g/PQ==?= <ivan@example.com>\r\n"),
    ],
)
def test_names_are_plain_quoted_or_encoded(name: str, written: str) -> None:
    assert headers.address_field("To", name, ADDRESS) == written


def test_a_long_quoted_name_folds_inside_its_quotes() -> None:
    name = "Ivan Petrov, Head of Platform Engineering <attacker@evil.example>, Someone Else"
    field = headers.address_field("To", name, ADDRESS)
    first, second = field.split("\r\n")[:2]
    assert first.startswith('To: "Ivan Petrov,') and second.startswith(" ")
    assert second.endswith(f'Else" <{ADDRESS}>')


def test_plain_subjects_stay_readable_and_fold_at_spaces() -> None:
    subject = "A backend role at Nordlys " * 5
    field = headers.text_field("Subject", subject.strip())
    assert "=?" not in field and field.count("\r\n") == 2
