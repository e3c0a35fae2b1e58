"""Grounding and quality checks run on every draft; flags go to the reviewer, never drop a draft.

Without a model to ask, "is this fact in the inputs?" is answered with text heuristics. The AI
text's specifics are extracted and looked up, tolerantly, in what the model was given: names and
places, numbers *with what they count* (a changed currency or unit is caught, and a number found
only in the template's own text supports only itself), number words, relative times, code names.
Then the text is read for who it speaks about: the candidate's achievement credited to someone
else, the person addressed called "she", the hiring company named as the candidate's employer.
Claims whose content words are in none of the inputs, the instruction copied into the mail, the
wrong language for the slot, hype and stock phrases, and (in feedback) protected characteristics
are flagged too. Each flag names one problem in plain words and points at its span.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from outreach.drafting.grounding import recognisers as lex
from outreach.drafting.grounding.facts import Facts, Flag, GroundingInput, fold, make_flag
from outreach.drafting.grounding.people import check_attribution, check_pronouns
from outreach.drafting.grounding.specifics import (
    check_calendar,
    check_identifiers,
    check_links_and_dates,
    check_names,
    check_numbers,
    check_relative_times,
)
from outreach.drafting.grounding.wording import (
    check_claims,
    check_echo,
    check_language,
    check_phrases,
    detect_language,
)
from outreach.drafting.templates import Slot, candidate_context

__all__ = ["Flag", "GroundingInput", "check", "fold"]


_GREETING_RE = re.compile(
    r"^[ \t]*(?:hi|hello|hey|dear|hej|hejsan|hallo|hei|hoi|hola|bonjour|moi|good (?:morning|"
    r"afternoon|evening))[ \t,]+([^\s,!.:;]+)\.?(?:[ \t]+([^\s,!.:;]+))?",
    re.IGNORECASE | re.MULTILINE,
)
# When two flags cover the same words, the first code here is the one the reviewer sees.
_PRIORITY = (
    "protected", "score", "echo", "attribution", "gendered", "pronoun", "unit",
    "template_number", "number", "relative_time", "identifier", "foreign_name", "unsupported",
    "hype", "stock_phrase", "claim",
)  # fmt: skip


def _greetings(body: str, person: Mapping[str, Any]) -> list[Flag]:
    first = str(person["first_name"])
    last = (str(person["name"]).split(",")[0].split() or [""])[-1]
    flags = []
    for m in _GREETING_RE.finditer(body):
        word, nxt = m.group(1), m.group(2) or ""
        line_start = body.rfind("\n", 0, m.start()) + 1
        if body[line_start:].lstrip().startswith(">") or not word[0].isupper():
            continue  # quoted mail, or "Hi there" / "hello again"
        if fold(word).rstrip(".") in lex.TITLES:
            ok = bool(last) and fold(nxt) == fold(last)
        else:
            ok = bool(first) and fold(word) in {fold(first), fold(first.split("-")[0])}
        if not ok:
            message = (
                f"the greeting names '{word}' but the candidate's first name is "
                f"'{first or '(unknown)'}'"
            )
            text = m.group().strip()
            flags.append(
                make_flag("wrong_greeting", message, text, None, body.index(text, m.start()))
            )
    return flags


def _length(text: str, slot: Slot | None, name: str) -> list[Flag]:
    count = len(text.split())
    if count < 3:
        return [Flag("length", f"slot '{name}' has only {count} word(s)", text, name, 0, len(text))]
    if slot and slot.max_words and count > 1.5 * slot.max_words:
        message = f"slot '{name}' has {count} words; the template asks for at most {slot.max_words}"
        return [Flag("length", message, slot=name)]
    return []


def _one_per_problem(flags: list[Flag]) -> list[Flag]:
    """Where flags overlap in one slot, keep the most specific; drop exact repeats."""
    rank = {code: i for i, code in enumerate(_PRIORITY)}
    kept: list[Flag] = []
    for flag in sorted(flags, key=lambda f: rank.get(f.code, len(rank))):
        # A claim already leaves out the words other flags cover (see check_claims).
        located = flag.start >= 0 and flag.code in rank and flag.code != "claim"
        if located and any(
            k.slot == flag.slot and k.code in rank and k.start < flag.end and flag.start < k.end
            for k in kept
        ):
            continue
        if any(
            (k.code, fold(k.text), k.slot) == (flag.code, fold(flag.text), flag.slot) for k in kept
        ):
            continue
        kept.append(flag)
    order = {id(f): i for i, f in enumerate(flags)}
    return sorted(kept, key=lambda f: order[id(f)])


def _slot_checks(
    name: str, text: str, facts: Facts, slots: Sequence[Slot], language: str, kind: str
) -> list[Flag]:
    """Every check on one slot's text."""
    flags, clean = check_links_and_dates(text, facts, name)
    flags += check_numbers(clean, facts, name, language)
    flags += check_relative_times(clean, facts, name)
    flags += check_identifiers(clean, facts, name, language)
    flags += check_names(clean, facts, name, language) + check_calendar(clean, facts, name)
    flags += check_attribution(text, facts, name, language) + check_pronouns(
        text, facts, name, language
    )
    flags += check_echo(text, facts, slots, name)
    flags += check_phrases(text, name, language, kind == "feedback")
    flags = _one_per_problem(flags)
    return _one_per_problem(flags + check_claims(text, facts, name, language, flags))


def check(
    ai_texts: Mapping[str, str],
    slots: Sequence[Slot],
    body: str,
    inputs: GroundingInput,
    *,
    kind: str,
    language: str | None,
    slot_languages: Mapping[str, str] | None = None,
) -> list[Flag]:
    """Check a draft's AI text against its inputs and its body for quality; return the flags.

    ``language`` is the template's language, which every slot is expected to be written in
    unless ``slot_languages`` names another for a slot.
    """
    by_name = {slot.name: slot for slot in slots}
    flags: list[Flag] = []
    if ai_texts:  # template-only drafts have no AI text to check
        for slot in slots:
            if not ai_texts.get(slot.name, "").strip():
                used = "its fallback was used" if slot.fallback else "it is empty"
                message = f"the model left slot '{slot.name}' empty; {used}"
                flags.append(Flag("empty_slot", message, "", slot.name))
    own = lex.language_code(str(inputs.candidate.get("language") or ""))
    person = candidate_context(inputs.candidate)  # derives first_name the way templates do
    facts = Facts(inputs, person) if any(t.strip() for t in ai_texts.values()) else None
    for name, text in ai_texts.items():
        if not text.strip() or facts is None:
            if name not in by_name:
                flags.append(Flag("empty_slot", f"the model left '{name}' empty", "", name))
            continue
        expected = (slot_languages or {}).get(name) or language or own
        code = detect_language(text) or lex.language_code(expected) or "en"  # read it as written
        flags += _slot_checks(name, text, facts, slots, code, kind)
        flags += check_language(text, expected, name) + _length(text, by_name.get(name), name)
    template_language = lex.language_code(language)
    if own and template_language and own != template_language and ai_texts:
        names = lex.LANGUAGE_NAMES
        flags.append(
            Flag(
                "language",
                f"the draft is in {names[template_language]}, but the candidate's language is "
                f"{names.get(own, own)}",
            )
        )
    flags += _greetings(body, person)
    for m in lex.PLACEHOLDER_RE.finditer(body):
        flags.append(make_flag("placeholder", f"leftover placeholder '{m.group()}' — fill it in",
                           m.group(), None, m.start()))  # fmt: skip
    if kind == "feedback" and not ai_texts:  # template text only: its body is what is sent
        flags += check_phrases(body, None, template_language or "", True)
    return _one_per_problem(flags)
