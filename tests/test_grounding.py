"""Grounding checks on realistic invented model output, rendered through the real templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from outreach.drafting.grounding import Flag, GroundingInput, check, fold
from outreach.drafting.templates import Slot, TemplateLibrary, candidate_context

STARTERS = Path(__file__).resolve().parent.parent / "templates"

PROFILE: dict[str, Any] = {
    "name": "Anna Svensson",
    "email": "anna.svensson@example.org",
    "headline": "Backend engineer, payments",
    "company": "Paywise",
    "location": "Stockholm",
    "language": "en",
    "skills": ["Go", "PostgreSQL", "Kafka"],
    "achievements": [
        "Cut payment settlement time from 2 days to 4 hours by redesigning the ledger pipeline",
        "Led the migration of 1200 merchants to the new API in 2024-11-05",
    ],
    "links": ["https://github.com/annasv/"],
}
ROLE = {
    "title": "Senior Backend Engineer",
    "location": "Stockholm (hybrid)",
    "link": "https://nordlys.example/jobs/42",
    "hiring_manager": "Lena Ek",
}
SENDER = {
    "name": "Maria Berg",
    "email": "maria@nordlys.example",
    "signature": "Maria Berg\nTech Recruiter, Nordlys AB",
}
NOTES = (
    "Interviewers: Lena Ek, Per Holm. Anna explained the ledger redesign clearly and drew the "
    "settlement flow from memory. Good questions about on-call. Struggled with cache "
    "invalidation in the design exercise; worth reading up on write-through vs write-back "
    "caches. Did not test the retry path in the take-home."
)
CONVERSATION = (
    "Maria Berg, 2026-01-12: Hi Anna, I'm recruiting for the Senior Backend Engineer role...\n"
    "Anna Svensson, 2026-01-13: Thanks Maria! Could we talk on Thursday? Is the team remote?"
)


@pytest.fixture(scope="module")
def lib() -> TemplateLibrary:
    return TemplateLibrary(STARTERS)


def run(
    lib: TemplateLibrary,
    name: str,
    values: dict[str, str] | None,
    *,
    profile: dict[str, Any] | None = None,
    notes: str = NOTES,
    conversation: str = CONVERSATION,
    body: str | None = None,
) -> list[Flag]:
    profile = profile or PROFILE
    context = {
        "candidate": candidate_context(profile),
        "role": ROLE,
        "sender": SENDER,
        "notes": notes,
        "outcome": "reject",
        "conversation": [
            {"subject": "Senior Backend Engineer", "text": conversation, "direction": "in"}
        ],
    }
    rendered = lib.render(name, context, values)
    meta = lib.get(name)
    inputs = GroundingInput(
        candidate=profile,
        role=ROLE,
        sender=SENDER,
        notes=notes,
        conversation=conversation,
        template_source=meta.source,
    )
    return check(
        dict(rendered.slot_values) if values else {},
        rendered.slots,
        rendered.body if body is None else body,
        inputs,
        kind=meta.kind,
        language=meta.language,
    )


def codes(flags: list[Flag]) -> list[tuple[str, str]]:
    return [(f.code, f.text) for f in flags]


# --- no false positives on clean drafts --------------------------------------------------

GOOD = {
    "intro": {
        "hook": "Cutting settlement time at Paywise from 2 days to 4 hours is the kind of ledger "
        "work this team does every week.",
        "why": "You would own parts of the payments platform in Go and Kafka, working closely "
        "with Lena Ek.",
    },
    "intro_sv": {
        "hook": "Att du kortade avräkningstiden på Paywise från 2 dagar till 4 timmar är precis "
        "den typ av arbete teamet gör.",
        "why": "Du skulle äga delar av betalplattformen i Go och Kafka, nära Lena Ek.",
    },
    "follow_up": {
        "nudge": "The team is about to rebuild its ledger, which is close to what you did at "
        "Paywise.",
    },
    "feedback_reject": {
        "moments": "You explained the ledger redesign clearly and drew the settlement flow from "
        "memory, which Lena Ek and Per Holm both noted.",
        "pointers": "The design exercise got harder around cache invalidation; reading up on "
        "write-through and write-back caches would help. In the take-home, tests for the "
        "retry path were missing.",
    },
    "feedback_advance": {
        "moments": "Your walk-through of the ledger redesign was clear, and your questions about "
        "on-call were good ones.",
        "next": "In the next step we would like to go deeper into cache invalidation, so it may "
        "help to think about write-through and write-back caches.",
    },
    "reply": {
        "reply": "Thursday works well for me. The team is hybrid in Stockholm, so most people "
        "are in the office a few days a week; I'll confirm the exact setup with Lena Ek and "
        "send you an invite.",
    },
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_clean_template_only_drafts_have_no_flags(lib: TemplateLibrary, name: str) -> None:
    flags = run(lib, name, None)
    if name == "reply":  # the reply fallback asks a person to complete it
        assert codes(flags) == [("placeholder", "[Answer Anna's message here.]")]
    else:
        assert flags == []


@pytest.mark.parametrize("name", sorted(GOOD))
def test_clean_model_text_has_no_flags(lib: TemplateLibrary, name: str) -> None:
    profile = {**PROFILE, "language": "sv" if name.endswith("_sv") else "en"}
    assert run(lib, name, GOOD[name], profile=profile) == []


# --- unsupported specifics ---------------------------------------------------------------


def test_issue_example_flags_invented_places_and_dates(lib: TemplateLibrary) -> None:
    hook = "Your work at Paywise in Södergrade, Sweden, and I'd love to meet next month on March 3."
    flags = run(lib, "intro", {"hook": hook, "why": GOOD["intro"]["why"]})
    assert codes(flags) == [
        ("unsupported", "March 3"),
        ("relative_time", "next month"),
        ("unsupported", "Södergrade"),
        ("unsupported", "Sweden"),
    ]
    assert all(f.slot == "hook" for f in flags)
    assert "none of the inputs" in flags[0].message
    assert [hook[f.start : f.end] for f in flags] == [f.text for f in flags]
    sweden = CONVERSATION + " We are all based in Sweden, and March 3 suits me."
    flags = run(lib, "intro", {"hook": hook, "why": "Go."}, conversation=sweden)
    assert ("unsupported", "Sweden") not in codes(flags)
    assert ("unsupported", "March 3") not in codes(flags)
    assert ("unsupported", "Södergrade") in codes(flags)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("At Paywise’s Stockholm office you moved 1,200 merchants in Nov 2024.", []),
        ("You moved 1 200 merchants on 5 November 2024, at PAYWISE.", []),
        ("Your GitHub at https://github.com/annasv shows that, and so does github.com/annasv/", []),
        ("Your Paywises team cut settlement time to 4 hours.", []),
        ("You cut settlement time at Paywise from 3 days to 6 hours.", ["3 days", "6 hours"]),
        ("Moving 1,500 merchants in 2023 is rare.", ["1,500", "2023"]),
        ("Your talk at KubeCon Europe in Amsterdam stood out.", ["KubeCon Europe", "Amsterdam"]),
        (
            "Write to anna@paywise.example or see https://annasv.dev/cv.",
            [
                "anna@paywise.example",
                "https://annasv.dev/cv",
            ],
        ),
        (
            "Your profile at https://github.com/annasv/ledger is great.",
            ["https://github.com/annasv/ledger"],
        ),
        ("We could meet on 2026-02-30 or on Friday.", ["2026-02-30", "Friday"]),
        ("You are the person to call about Go and Kafka; Thursday suits me.", []),
        ("Building ledgers at Paywise, you did what Lena Ek needs.", []),
        ("Congratulations on the ledger work; Spotify would notice it too.", ["Spotify"]),
    ],
)
def test_unsupported_specifics(lib: TemplateLibrary, text: str, expected: list[str]) -> None:
    flags = run(lib, "intro", {"hook": text, "why": GOOD["intro"]["why"]})
    assert [f.text for f in flags if f.code in ("unsupported", "number")] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jonas Lindqvist mentioned your ledger work to me.", ["Jonas Lindqvist"]),
        ("My colleague Okonkwo said the same about your Go work.", ["Okonkwo"]),
        ("Lena Ek and Per Holm both liked your ledger work.", []),
        ("Maria and Anna, thank you both.", []),
    ],
)
def test_foreign_names(lib: TemplateLibrary, text: str, expected: list[str]) -> None:
    flags = run(
        lib, "feedback_reject", {"moments": text, "pointers": GOOD["feedback_reject"]["pointers"]}
    )
    assert [f.text for f in flags if f.code == "foreign_name"] == expected
    assert not [f for f in flags if f.code == "unsupported"]


# --- body checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("greeting", "flagged"),
    [
        ("Hi Anna,", False),
        ("hello anna!", False),
        ("Dear Ms. Svensson,", False),
        ("Hi there,", False),
        ("Hi Anne,", True),
        ("Hej Maria!", True),
        ("Dear Mr Berg,", True),
        ("Hallo Jonas,", True),
    ],
)
def test_wrong_greeting_anywhere_in_body(
    lib: TemplateLibrary, greeting: str, flagged: bool
) -> None:
    body = f"{greeting}\n\nThanks for the call.\n\n> Hi Maria,\n> quoted earlier mail\n"
    flags = run(lib, "intro", None, body=body)
    assert [f.code for f in flags] == (["wrong_greeting"] if flagged else [])
    if flagged:
        assert "'Anna'" in flags[0].message


def test_wrong_greeting_in_later_paragraph_and_hyphenated_name(lib: TemplateLibrary) -> None:
    body = "Hi Anna,\n\nText.\n\nHello Erik, and welcome.\n"
    assert codes(run(lib, "intro", None, body=body)) == [("wrong_greeting", "Hello Erik")]
    profile = {**PROFILE, "name": "Anna-Karin Svensson"}
    for ok in ["Hi Anna-Karin,", "Hi Anna,"]:
        assert run(lib, "intro", None, profile=profile, body=f"{ok}\n\nText.\n") == []
    reversed_name = {**PROFILE, "name": "Svensson, Anna"}
    for ok in ["Hi Anna,", "Dear Ms Svensson,"]:
        assert run(lib, "intro", None, profile=reversed_name, body=f"{ok}\n\nText.\n") == []


@pytest.mark.parametrize(
    "leftover",
    [
        "{{ candidate.name }}",
        "[Name]",
        "[Company name]",
        "<candidate>",
        "XXX",
        "TODO",
        "Lorem ipsum",
    ],
)
def test_placeholders(lib: TemplateLibrary, leftover: str) -> None:
    body = f"Hi Anna,\n\nYour work at {leftover} stood out.\n"
    flags = run(lib, "intro", None, body=body)
    assert codes(flags) == [("placeholder", leftover)]


def test_placeholder_negatives(lib: TemplateLibrary) -> None:
    body = (
        "Hi Anna,\n\nSee [the posting](https://nordlys.example/jobs/42) or write to "
        "<maria@nordlys.example>. Xerxes is not XXL.\n"
    )
    assert run(lib, "intro", None, body=body) == []


# --- slot checks ---------------------------------------------------------------------------


def test_empty_slot_and_length(lib: TemplateLibrary) -> None:
    long = " ".join(["ledger"] * 61)
    flags = run(lib, "intro", {"hook": long, "why": "  "})
    assert [(f.code, f.slot) for f in flags] == [("empty_slot", "why"), ("length", "hook")]
    assert "61 words" in flags[1].message and "at most 40" in flags[1].message
    short = run(lib, "intro", {"hook": "Ledger work.", "why": GOOD["intro"]["why"]})
    assert [(f.code, f.slot) for f in short] == [("length", "hook")]
    within = " ".join(["ledger"] * 55)  # under 1.5 x 40
    assert run(lib, "intro", {"hook": within, "why": GOOD["intro"]["why"]}) == []


def test_missing_slot_in_model_answer_is_empty(lib: TemplateLibrary) -> None:
    slots = (Slot("hook", "x", "fb", 40, 3), Slot("why", "y", None, None, 5))
    inputs = GroundingInput(PROFILE, ROLE, SENDER, "", "", "")
    flags = check(
        {"hook": GOOD["intro"]["hook"]}, slots, "Hi Anna,\n", inputs, kind="outreach", language="en"
    )
    assert codes(flags) == [("empty_slot", "")] and flags[0].slot == "why"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I came across your profile and saw your ledger work.", "I came across your profile"),
        ("This is an exciting opportunity for a payments engineer.", "exciting opportunity"),
        ("We want a rockstar who can hit the ground running.", "rockstar"),
        ("Our fast-paced team builds payments.", "fast-paced"),
        ("Think of the synergy with your ledger work.", "synergy"),
        ("You would join a dynamic team in Stockholm.", "dynamic team"),
    ],
)
def test_stock_phrases(lib: TemplateLibrary, text: str, found: str) -> None:
    flags = run(lib, "intro", {"hook": text, "why": GOOD["intro"]["why"]})
    assert found in [f.text for f in flags if f.code in ("stock_phrase", "hype")]
    assert all(f.slot == "hook" for f in flags)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("The engineer will own the ledger, and he/she will report to Lena Ek.", "he/she"),
        ("The guys on the payments team liked your ledger work.", "guys"),
        ("We need the manpower to rebuild the ledger this spring.", "manpower"),
        ("We want an aggressive engineer who owns the ledger.", "aggressive"),
        ("You would be the dominant voice on ledger design.", "dominant"),
        ("You would report to the chairman of the payments guild.", "chairman"),
    ],
)
def test_gendered_wording(lib: TemplateLibrary, text: str, found: str) -> None:
    flags = run(lib, "intro", {"hook": text, "why": GOOD["intro"]["why"]})
    assert found in [f.text for f in flags if f.code == "gendered"]


def test_language_mismatch(lib: TemplateLibrary) -> None:
    swedish = {**PROFILE, "language": "sv-SE"}
    flags = run(lib, "intro", GOOD["intro"], profile=swedish)
    assert [(f.code, f.text) for f in flags] == [("language", "")]
    assert "Swedish" in flags[0].message and "English" in flags[0].message
    assert run(lib, "intro_sv", GOOD["intro_sv"], profile=swedish) == []
    german = {
        "hook": "Ihre Arbeit bei Paywise ist genau das, was wir mit dem Ledger machen.",
        "why": "Sie würden auch mit Go und Kafka arbeiten, und das ist für uns wichtig.",
    }
    # German capitalises nouns; read as German, they are not taken for names.
    flags = run(lib, "intro", german)
    assert [(f.code, f.slot) for f in flags] == [("language", "hook"), ("language", "why")]
    assert all("German" in f.message and "English" in f.message for f in flags)
    # No language on file: the template's language is expected.
    unknown = {**PROFILE, "language": ""}
    flags = run(lib, "intro_sv", GOOD["intro"], profile=unknown)
    assert [(f.code, f.slot, f.text) for f in flags] == [
        ("language", "hook", GOOD["intro"]["hook"]),
        ("language", "why", GOOD["intro"]["why"]),
    ]
    assert "written in English, but the slot is to be in Swedish" in flags[0].message


# --- feedback only -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("You did well for someone your age, and the ledger answer was clear.", "your age"),
        ("With two kids at home, the take-home must have been a lot.", "kids"),
        ("Your accent made the design discussion slower at times.", "accent"),
        ("Given your pregnancy, we did not want to add more pressure.", "pregnancy"),
        ("The panel worried about your health after the sick leave.", "health"),
        ("As a recently married engineer you have a lot going on.", "married"),
        ("Your nationality was not a factor in the decision.", "nationality"),
        ("It was good to have a woman on the panel for the ledger part.", "woman"),
        ("Your Christian faith came up when we talked about on-call weekends.", "Christian"),
        ("Your dyslexia did not affect the design exercise.", "dyslexia"),
    ],
)
def test_protected_topics_in_feedback(lib: TemplateLibrary, text: str, found: str) -> None:
    values = {"moments": GOOD["feedback_reject"]["moments"], "pointers": text}
    flags = run(lib, "feedback_reject", values)
    protected = [(f.text, f.slot) for f in flags if f.code == "protected"]
    assert (found, "pointers") in protected


def test_protected_negatives_in_technical_feedback(lib: TemplateLibrary) -> None:
    values = {
        "moments": "You found the race condition in the settlement job and used the child "
        "process model well.",
        "pointers": "The health checks in the take-home were missing, and the blind spots in "
        "your cache design were about invalidation, not the parent class.",
    }
    notes = NOTES + " Found the race condition, good child process model, health checks missing."
    notes += " Blind spots in cache design; parent class."
    flags = run(lib, "feedback_reject", values, notes=notes)
    assert [f for f in flags if f.code == "protected"] == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Your design exercise scored 7/10 with the panel.", "scored 7/10"),
        ("The take-home was rated 3 out of 5 by the team.", "rated 3 out of 5"),
        ("Technically you were a 4/5, but we went another way.", "4/5"),
        ("You got 62 points on the coding test.", "62 points"),
    ],
)
def test_scores_in_feedback(lib: TemplateLibrary, text: str, found: str) -> None:
    values = {"moments": GOOD["feedback_reject"]["moments"], "pointers": text}
    notes = NOTES + " Scores: 7/10, 3 out of 5, 4/5, 62 points."
    flags = run(lib, "feedback_reject", values, notes=notes)
    assert [(f.text, f.slot) for f in flags if f.code == "score"] == [(found, "pointers")]


def test_scores_and_protected_only_for_feedback(lib: TemplateLibrary) -> None:
    text = "Your kids will love the 24/7 support rota at Paywise; you scored 7/10."
    flags = run(lib, "intro", {"hook": text, "why": GOOD["intro"]["why"]})
    assert {f.code for f in flags} <= {"unsupported", "number"}
    assert "24/7" not in [
        f.text for f in run(lib, "feedback_reject", {"moments": text, "pointers": "Fine."})
    ]


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Malmö") == fold("MALMO") == "malmo"


@pytest.mark.parametrize(
    "text",
    [
        "Your redesign of the ledger pipeline at Paywise, which cut settlement time from two "
        "days to four hours, shows the ownership this role needs.",
        "As a Backend Engineer at Paywise, you've worked with Go, PostgreSQL and Kafka.",
        "Feel free to reply with a time. Let's keep it short.",
        "You're clearly strong in Go. It's rare to see that depth in Kafka too.",
        "Thanks for getting back to me, Anna! Thursday works, and Lena would join.",
        "Nordlys is rebuilding its ledger. Happy to share more on a call.",
        "Given your work on the ledger pipeline, the Senior Backend Engineer role is close.",
    ],
)
def test_no_false_positives_on_typical_model_sentences(lib: TemplateLibrary, text: str) -> None:
    assert run(lib, "intro", {"hook": text, "why": GOOD["intro"]["why"]}) == []
