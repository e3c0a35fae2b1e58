"""Flags and grounds as the reviewer sees them: plain words, a place in the body, the sources.

The grounding check locates a finding inside its slot's text; the reviewer reads the whole
body. Each flag gets its body offsets (``body_start``/``body_end``, from where the slot's text
sits in the body) so the page marks exactly that span, and a ``label`` in words instead of a
code. Draft-level findings that need the render (a missing first name, a template in another
language than the candidate's) are added here. ``grounds`` records what the text was built
from: the role, the company, the profile fields used, the interview moments, the slots that
used their fallback text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from outreach.drafting.grounding import Flag
from outreach.drafting.grounding.recognisers import LANGUAGE_NAMES, language_code
from outreach.drafting.notes import Notes
from outreach.drafting.templates import Rendered, candidate_context

LABELS = {
    "ai_error": "The model failed",
    "attribution": "Credited to the wrong person",
    "claim": "A claim the inputs do not make",
    "echo": "Instructions copied into the mail",
    "empty_slot": "Empty AI part",
    "foreign_name": "A name not in the inputs",
    "gendered": "Gender-coded wording",
    "hype": "Hype",
    "identifier": "A code name not in the inputs",
    "language": "Wrong language",
    "length": "Length",
    "no_name": "No first name",
    "number": "A number not in the inputs",
    "placeholder": "Leftover placeholder",
    "pronoun": "Pronoun for the person addressed",
    "protected": "Personal topic in feedback",
    "relative_time": "A time not in the inputs",
    "score": "An interview score",
    "stock_phrase": "Stock phrase",
    "template_number": "A number only the template has",
    "unit": "Changed unit or currency",
    "unsupported": "Not in the inputs",
    "verify": "Unsupported claim (second check)",
    "wrong_greeting": "Wrong name in the greeting",
}


def label(code: str) -> str:
    """The reviewer's words for a flag code."""
    return LABELS.get(code, code.replace("_", " ").capitalize())


def placed(flags: Sequence[Flag], rendered: Rendered) -> list[dict[str, Any]]:
    """Flags as stored: with a label and, where the flag has one place, its body offsets."""
    spans = {name: start for name, start, _ in rendered.ai_spans}
    out = []
    for flag in flags:
        item = asdict(flag)
        item["label"] = label(flag.code)
        start = flag.start
        if start >= 0 and flag.slot is not None:
            start = spans[flag.slot] + flag.start if flag.slot in spans else -1
        if start >= 0 and rendered.body[start : start + len(flag.text)] == flag.text:
            item["body_start"], item["body_end"] = start, start + len(flag.text)
        out.append(item)
    return out


def draft_flags(
    person: Mapping[str, Any], template_language: str | None, rendered: Rendered
) -> list[Flag]:
    """Findings about the whole draft: no first name to greet, another language than theirs."""
    flags = []
    if not str(candidate_context(person)["first_name"]).strip():
        flags.append(
            Flag(
                "no_name",
                "the candidate has no first name, so the greeting names nobody — add their "
                "name to the candidate file or greet them in your edit",
            )
        )
    own = language_code(str(person.get("language") or ""))
    used = language_code(template_language) or "en"
    if own and own != used:
        flags.append(
            Flag(
                "language",
                f"the draft is in {LANGUAGE_NAMES[used]}, but the candidate's language is "
                f"{LANGUAGE_NAMES.get(own, own)} — add a template variant or check the choice",
            )
        )
    return flags


def grounds(
    *,
    role: Mapping[str, Any],
    company: Mapping[str, Any],
    fields: Sequence[str],
    notes: Notes | None,
    rendered: Rendered,
    ai_text: Mapping[str, str],
    language: str,
) -> dict[str, Any]:
    """What a draft was grounded in, for the draft page."""
    fallbacks = [
        slot.name
        for slot in rendered.slots
        if not str(ai_text.get(slot.name) or "").strip() and slot.fallback is not None
    ]
    record: dict[str, Any] = {
        "role": {k: v for k, v in role.items() if v},
        "company": {k: v for k, v in company.items() if v},
        "profile_fields": list(fields),
        "slots": [slot.name for slot in rendered.slots],
        "fallback_slots": fallbacks,
        "language": language,
    }
    if notes is not None:
        record["notes"] = {
            "went_well": list(notes.went_well),
            "to_work_on": list(notes.to_work_on),
            "other": list(notes.other),
            "withheld": notes.withheld,
        }
    return record
