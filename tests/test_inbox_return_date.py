"""Return dates stated in out-of-office replies, in the shapes and languages we receive."""

from __future__ import annotations

from datetime import date

import pytest

from outreach.inbox.return_date import find_return_date

TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm out of the office and back on December 2.", date(2026, 12, 2)),
        ("Back on Dec 2nd, 2026.", date(2026, 12, 2)),
        ("I'm away until 2 December 2026.", date(2026, 12, 2)),
        ("Returning on the 2nd of December.", date(2026, 12, 2)),
        ("Back 2026-12-02.", date(2026, 12, 2)),
        ("Jag är åter 2/12.", date(2026, 12, 2)),
        ("Tillbaka måndag 7 december.", date(2026, 12, 7)),
        ("Ich bin bis zum 02.12.2026 nicht im Büro.", date(2026, 12, 2)),
        ("Ab dem 2. Dezember bin ich wieder erreichbar.", date(2026, 12, 2)),
        ("Je serai de retour le mar. 2 déc.", date(2026, 12, 2)),
        ("Estaré fuera hasta el 2 de diciembre.", date(2026, 12, 2)),
        ("Ik ben terug op 2 december.", date(2026, 12, 2)),
        ("Jeg er tilbake 2. desember.", date(2026, 12, 2)),
        ("Jeg er tilbage den 2. december.", date(2026, 12, 2)),
        ("Olen lomalla 2. joulukuuta asti.", date(2026, 12, 2)),
        ("Back on January 5.", date(2027, 1, 5)),
        ("Away from 15 November until 2 December 2026.", date(2026, 12, 2)),
        ("Away 25 November to 2 December, back 3 December.", date(2026, 12, 3)),
    ],
)
def test_return_dates(text: str, expected: date) -> None:
    assert find_return_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'll be back 12/2.",  # December 2 or 12 February: don't guess
        "I'm on parental leave and back next year.",
        "I was away on 3 November.",
        "Version 3.5 is out, see section 4.2.",
        "Back on Monday.",
        "Back on 31 February.",
        "",
    ],
)
def test_unclear_or_past_dates_give_none(text: str) -> None:
    assert find_return_date(text, TODAY) is None


def test_today_counts_as_a_return_date() -> None:
    assert find_return_date("Back on 20 November.", TODAY) == TODAY
