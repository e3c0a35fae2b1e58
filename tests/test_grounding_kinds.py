"""The grounding check, one kind of invention at a time, with a clean twin for each."""

from __future__ import annotations

from typing import Any

import pytest

from outreach.drafting.grounding import Flag, GroundingInput, check
from outreach.drafting.templates import Slot

PERSON: dict[str, Any] = {
    "name": "Anna Svensson",
    "headline": "Backend engineer, payments",
    "company": "Paywise",
    "language": "en",
    "skills": ["Go", "PostgreSQL", "Kafka"],
    "achievements": [
        "Cut payment settlement time from 2 days to 4 hours by redesigning the ledger pipeline",
        "Led the migration of 1,200 merchants to the new API",
        "Built a reconciliation service that matches AED 2.1 million of payments a day",
    ],
}
ROLE = {
    "title": "Senior Backend Engineer",
    "location": "Stockholm",
    "hiring_manager": "Lena Ek",
    "team": "The payments team at Nordlys owns the ledger and payouts.",
    "work": "Move payouts to Kafka events; on-call is shared across six engineers.",
}
SENDER = {"name": "Maria Berg", "email": "maria@nordlys.example", "signature": "Maria Berg"}
NOTES = "Interviewers: Lena Ek, Per Holm.\nWent well: explained the ledger redesign clearly."
CONVERSATION = "Anna Svensson (2026-01-13): Is the team remote, and do you pay for relocation?"
TEMPLATE = "Would you be open to a 20-minute call in the next couple of weeks?"
INSTRUCTION = "One sentence on the most impressive concrete thing in the profile, as 'you'."


def flags_for(
    text: str,
    *,
    kind: str = "outreach",
    language: str = "en",
    person: dict[str, Any] | None = None,
    notes: str = NOTES,
    **extra: Any,
) -> list[Flag]:
    inputs = GroundingInput(
        candidate=person or {**PERSON, "language": language},
        role=ROLE,
        sender=SENDER,
        notes=notes,
        conversation=CONVERSATION,
        template_source=TEMPLATE,
        **extra,
    )
    slot = Slot("hook", INSTRUCTION, None, 60, 1)
    return check(
        {"hook": text}, [slot], f"Hi Anna,\n\n{text}\n", inputs, kind=kind, language=language
    )


def flagged(text: str, **kwargs: Any) -> list[tuple[str, str]]:
    """(code, flagged text) for each flag; every span must point at its text."""
    found = flags_for(text, **kwargs)
    for flag in found:
        if flag.slot == "hook" and flag.start >= 0:
            assert text[flag.start : flag.end] == flag.text, flag
    return [(f.code, f.text) for f in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You cut settlement time from 2 days to 4 minutes.", ("unit", "4 minutes")),
        ("You match 2.1 million dollars of payments a day.", ("unit", "2.1 million dollars")),
        ("You moved 1,200 banks to the new API.", ("unit", "1,200")),
        ("You cut settlement time by 2 days, about 4 percent.", ("unit", "4 percent")),
    ],
)
def test_a_changed_unit_or_currency_is_flagged(text: str, expected: tuple[str, str]) -> None:
    assert expected in flagged(text)


def test_the_same_number_said_another_way_is_not_flagged() -> None:
    text = "You cut settlement from two days to four hours and moved 1200 merchants."
    assert flagged(text) == []
    assert flagged("You match AED 2,100,000 of payments every day.") == []


def test_a_number_found_only_in_the_template_supports_only_itself() -> None:
    assert ("template_number", "20") in flagged("You would join a team of 20 at Nordlys.")
    assert flagged("A 20-minute call would be enough to talk about the ledger.") == []


def test_number_words_are_checked_like_digits() -> None:
    assert ("number", "five years") in flagged("You spent five years on the ledger.")
    assert ("number", "tolv år") in flagged("Du arbetade tolv år med ledgern.", language="sv")
    assert flagged("The ledger is shared across six engineers on call.") == []


@pytest.mark.parametrize(
    ("text", "found", "language"),
    [
        ("Last year you redesigned the ledger pipeline.", "Last year", "en"),
        ("You recently led the migration of 1,200 merchants.", "recently", "en"),
        ("Förra året ledde du flytten av 1 200 handlare.", "Förra året", "sv"),
        ("För ett år sedan kortade du avräkningstiden.", "För ett år sedan", "sv"),
    ],
)
def test_relative_times_need_the_inputs(text: str, found: str, language: str) -> None:
    assert ("relative_time", found) in flagged(text, language=language)


def test_a_relative_time_the_inputs_give_passes() -> None:
    text = "A short call in the next couple of weeks would suit the ledger work."
    assert flagged(text) == []


@pytest.mark.parametrize(
    "name", ["rust_decimal", "ledger_entries", "useReducer", "tokio::sync", "pgx", "terraform"]
)
def test_invented_code_names_are_flagged(name: str) -> None:
    text = f"Your ledger work would carry over to {name} on the payouts service."
    assert ("identifier", name) in flagged(text)


def test_code_names_from_the_inputs_and_ordinary_compounds_pass() -> None:
    assert flagged("Your Kafka and PostgreSQL work on the write-through ledger is close.") == []


def test_the_candidates_achievement_credited_to_someone_else_is_flagged() -> None:
    found = flagged("Lena Ek led the migration of 1,200 merchants to the new API.")
    assert ("attribution", "Lena Ek") in found
    noted = "You explained the ledger redesign clearly, which Lena Ek noted."
    assert flagged(noted, kind="feedback") == []


def test_companies_swapped_between_the_sides_are_flagged() -> None:
    assert ("attribution", "Nordlys") in flagged("After your years at Nordlys, the ledger fits.")
    assert ("attribution", "Paywise") in flagged("We at Paywise are rebuilding the ledger.")
    assert flagged("You would join the payments team at Nordlys, close to Paywise work.") == []


@pytest.mark.parametrize(
    ("text", "found", "language"),
    [
        ("Her redesign of the ledger pipeline cut settlement time.", "Her", "en"),
        ("Anna's migration of 1,200 merchants fits the role.", "Anna's", "en"),
        ("Lena Ek liked how she explained the ledger redesign clearly.", "she", "en"),
        ("Hennes flytt av 1 200 handlare passar rollen.", "Hennes", "sv"),
    ],
)
def test_the_person_addressed_in_the_third_person_is_flagged(
    text: str, found: str, language: str
) -> None:
    assert ("pronoun", found) in flagged(text, language=language)


def test_pronouns_for_other_people_and_a_vocative_name_pass() -> None:
    assert flagged("Thanks, Anna. Lena Ek leads the team, and she owns payouts.") == []


def test_an_invented_claim_without_names_is_flagged() -> None:
    found = flagged("Everyone gets a home-office allowance and a fully paid gym membership.")
    assert [code for code, _ in found] == ["claim"]
    answer = flagged("We pay for relocation and the flights.", kind="reply")
    assert [code for code, _ in answer] == ["claim"]
    deferred = "I don't know whether we pay for relocation, so I will find out."
    assert flagged(deferred, kind="reply") == []


def test_the_instruction_or_prompt_echoed_is_flagged() -> None:
    echo = "The most impressive concrete thing in the profile is your ledger redesign."
    assert flagged(echo)[0][0] == "echo"
    assert flagged("The candidate's ledger redesign fits the role.")[0] == (
        "echo",
        "The candidate's",
    )
    rules = "Use only facts that appear in the data below when you write."
    text = "Use only facts that appear in the data below: your ledger redesign fits."
    assert flagged(text, prompt=rules)[0][0] == "echo"


def test_the_wrong_language_for_the_slot_is_flagged_per_slot() -> None:
    english = "You would own the ledger rebuild in Go, close to what you did at Paywise."
    found = flags_for(english, language="sv")
    assert [(f.code, f.text) for f in found] == [("language", english)]
    assert "English" in found[0].message and "Swedish" in found[0].message
    swedish = "Teamet bygger om ledgern i Go, och det ligger nära det du gjorde på Paywise."
    assert flagged(swedish, language="sv") == []


@pytest.mark.parametrize(
    ("text", "found", "language"),
    [
        ("I came across your profile and your ledger work.", "I came across your profile", "en"),
        ("Your ledger redesign is truly world-class.", "world-class", "en"),
        ("This is a unique opportunity for a payments engineer.", "unique opportunity", "en"),
        ("Det här är en spännande möjlighet för dig.", "spännande möjlighet", "sv"),
        ("Du vore en perfekt match för teamet.", "perfekt match", "sv"),
    ],
)
def test_hype_and_stock_phrases(text: str, found: str, language: str) -> None:
    assert found in [
        t for code, t in flagged(text, language=language) if code.startswith(("hype", "stock"))
    ]


@pytest.mark.parametrize(
    ("text", "found", "language"),
    [
        ("At 52 you bring a lot to a ledger team.", "At 52", "en"),
        ("As a parent of two, the on-call rota may be hard.", "parent", "en"),
        ("Since you are expecting in the spring, the timing is hard.", "expecting", "en"),
        ("Your burnout last year made us careful.", "burnout", "en"),
        ("The midday prayers would be hard to fit around on-call.", "prayers", "en"),
        ("Your accent made the design part slow.", "accent", "en"),
        ("As a Polish engineer you would face a long onboarding.", "Polish", "en"),
        ("As a woman in payments you bring a rare view.", "woman", "en"),
        ("I din ålder är det modigt att byta bana.", "I din ålder", "sv"),
        ("Med tre barn hemma blir jouren tung.", "barn", "sv"),
        ("Eftersom du är gravid väntar vi.", "gravid", "sv"),
        ("Efter din sjukskrivning vill vi vänta.", "sjukskrivning", "sv"),
        ("Som troende muslim behöver du flexibla tider.", "troende", "sv"),
        ("Din brytning gjorde samtalet svårt.", "brytning", "sv"),
        ("Som kvinna i tech har du ett annat perspektiv.", "Som kvinna", "sv"),
    ],
)
def test_protected_characteristics_in_feedback(text: str, found: str, language: str) -> None:
    hits = [
        t for code, t in flagged(text, kind="feedback", language=language) if code == "protected"
    ]
    assert any(found.casefold() in hit.casefold() for hit in hits), hits


def test_technical_words_near_protected_ones_pass_in_feedback() -> None:
    text = "You found the race condition in the child process and the health checks were clear."
    notes = "Found the race condition in the child process; health checks clear."
    assert flagged(text, kind="feedback", notes=notes) == []
    swedish = "Du förklarade arbetet som sjuksköterska konkret, men testerna saknades."
    assert flagged(swedish, kind="feedback", language="sv") == []


@pytest.mark.parametrize(
    "text",
    [
        "Teamet bygger om ledgern, och det är nära det du gjorde på Paywise.",
        "Rollen handlar om ledgern i Go, nära ditt arbete på Paywise.",
        "Läs gärna på om cachning, och lägg till tester för ledgern.",
    ],
)
def test_ordinary_swedish_sentence_starts_are_not_names(text: str) -> None:
    assert flagged(text, language="sv") == []


def test_ordinary_german_nouns_are_not_names() -> None:
    text = "Die Rolle passt zu Ihrer Erfahrung mit Kafka, denn das Team baut die Ledger neu."
    assert flagged(text, language="de") == []


def test_one_flag_per_problem() -> None:
    found = flagged("At 52 you bring a lot.", kind="feedback")
    assert found == [("protected", "At 52")]  # not also "52 is in none of the inputs"
