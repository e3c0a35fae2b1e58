"""Interview notes: the documented format, turned to the person, protected details removed."""

from __future__ import annotations

import pytest

from outreach.drafting.notes import mask, parse


def test_headings_and_items_become_moments_and_pointers() -> None:
    notes = parse(
        "Interviewers: Lena Ek and Omar Said\nWent well:\n- She sharded the ledger cleanly.\n"
        "- Jamie was calm under pressure\n* explained her retry design\nTo work on:\n"
        "1. SQL window functions\nGeneral:\nStrong hire signal from pairing.\n",
        "Jamie",
    )
    assert notes.interviewers == ("Lena Ek", "Omar Said")
    assert notes.went_well == (
        "You sharded the ledger cleanly",
        "You were calm under pressure",
        "You explained your retry design",
    )
    assert notes.to_work_on == ("SQL window functions",)
    assert notes.other == ("Strong hire signal from pairing.",)


def test_plus_minus_lines_and_plain_bullets() -> None:
    assert parse("+ clear on trade-offs\n- SQL window functions").to_work_on == (
        "SQL window functions",
    )
    plain = parse("- designed the ledger\n- weaker on SQL")
    assert (plain.went_well, plain.to_work_on) == ((), ())  # bullets alone are not a verdict
    assert plain.other == ("- designed the ledger", "- weaker on SQL")


def test_swedish_headings_and_du() -> None:
    notes = parse("Gick bra:\n- Hon var lugn under press\nAtt utveckla:\n- SQL", "", "sv")
    assert notes.went_well == ("Du var lugn under press",) and notes.to_work_on == ("SQL",)


@pytest.mark.parametrize(
    "private",
    [
        "She is 52 years old.",
        "Has two kids at home.",
        "Mentioned her pregnancy.",
        "Was on sick leave last spring.",
        "Prays five times a day.",
        "Hon har tre barn.",
        "Hon är gravid.",
    ],
)
def test_protected_sentences_are_removed_and_counted(private: str) -> None:
    text, removed = mask(f"Sharded the ledger cleanly. {private} Wrote tests first.")
    assert removed == 1 and private not in text
    assert "Sharded the ledger cleanly." in text and "Wrote tests first." in text
