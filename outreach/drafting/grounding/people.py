"""Who the AI text speaks about: the candidate's deeds credited to others, companies swapped,
and the person addressed as "she" or by name in the third person.
"""

from __future__ import annotations

import re

from outreach.drafting.grounding.facts import (
    CLAUSE_END,
    Facts,
    Flag,
    make_flag,
    split_sentences,
    stem_of,
)
from outreach.drafting.lexicon import words as wl
from outreach.drafting.lexicon.numbers import mentions


def check_attribution(text: str, facts: Facts, slot: str, language: str) -> list[Flag]:
    """Flag the candidate's facts credited to someone else, and companies swapped over."""
    flags = []
    for _, words in split_sentences(text):
        folded = [w for w, _, _ in words]
        for i, (word, start, _) in enumerate(words):
            for name, _ in facts.others:
                parts = name.split()
                size = len(parts) if folded[i : i + len(parts)] == parts else 0
                if not size and word == parts[0] and word not in facts.own_names:
                    size = 1
                if not size or (i and folded[i - 1] in _PREPOSITIONS):
                    continue
                window = _until_you(folded[i + size :])
                if set(window[:4]) & wl.REPORTING:
                    continue
                if _own_evidence(window, text, words[i + size :], facts, language) >= 2:
                    who = text[start : words[i + size - 1][2]]
                    message = (
                        f"this credits {who} with what the inputs say the candidate did — "
                        "check who did it"
                    )
                    flags.append(make_flag("attribution", message, who, slot, start))
        flags += _org_swaps(text, words, facts, slot)
    return flags


_PREPOSITIONS = wl.PLACE_PREPOSITIONS | {"to", "by", "like", "and", "till", "av", "och", "med"}


def _until_you(words: list[str]) -> list[str]:
    for i, word in enumerate(words):
        if word in wl.SECOND_PERSON or word in CLAUSE_END:
            return words[:i]
    return words


def _own_evidence(
    window: list[str], text: str, spans: list[tuple[str, int, int]], facts: Facts, language: str
) -> int:
    stems = {stem_of(w, language) for w in window if w not in wl.ALL_STOPWORDS}
    hits = len(stems & facts.own_stems)
    if spans and window:
        end = spans[len(window) - 1][2]
        hits += sum(m.value in facts.own_numbers for m in mentions(text[spans[0][1] : end]))
    return hits


def _org_swaps(text: str, words: list[tuple[str, int, int]], facts: Facts, slot: str) -> list[Flag]:
    """'your years at <hiring company>' and '<the role> at <the candidate's company>'."""
    flags = []
    folded = [w for w, _, _ in words]
    for i, (word, start, end) in enumerate(words):
        if i == 0 or folded[i - 1] not in wl.PLACE_PREPOSITIONS:
            continue
        before = folded[max(0, i - 8) : i - 1]
        if word in facts.hiring_orgs and not set(before) & (wl.FUTURE | wl.HIRING_SIDE):
            near = slice(max(0, i - 10), i + 10)
            evidence = (
                set(before) & wl.SECOND_PERSON
                or _own_evidence(folded[near], text, words[near], facts, "en") >= 2
            )
            if evidence:
                message = (
                    f"'{text[start:end]}' is the hiring side, but this makes it the candidate's "
                    "past — check the company"
                )
                flags.append(make_flag("attribution", message, text[start:end], slot, start))
        elif word in facts.own_orgs and set(before[-4:]) & (
            wl.HIRING_SIDE | wl.JOINING | {facts.title}
        ):
            if not set(before[-4:]) & wl.SECOND_PERSON:
                message = (
                    f"'{text[start:end]}' is where the candidate works, but this makes it the "
                    "hiring side — check the company"
                )
                flags.append(make_flag("attribution", message, text[start:end], slot, start))
    return flags


def check_pronouns(text: str, facts: Facts, slot: str, language: str) -> list[Flag]:
    """Flag 'she'/'his'/'hennes' and the person's own name in the third person."""
    flags = []
    previous: list[str] = []  # genders of the people named in the sentence before ("" unknown)
    for _, words in split_sentences(text):
        folded = [w for w, _, _ in words]
        here: list[str] = []
        for i, (word, start, end) in enumerate(words):
            raw = text[start:end]
            gender = _other_gender(folded, i, facts)
            if gender is not None:
                here.append(gender)
                continue
            if text[max(0, start - 1) : start] == "/" or text[end : end + 1] == "/":
                continue  # "he/she" is gender-coded wording, flagged as such
            if word in wl.THIRD_PERSON and _pronoun_language(word, language):
                if word == "hans" and raw[0].isupper() and i:
                    continue  # "Hans" the name
                others = previous + here
                mine = wl.THIRD_PERSON[word]
                after = _until_you(folded[i + 1 :])[:8]
                evidence = _own_evidence(after, text, words[i + 1 : i + 9], facts, language)
                if (
                    not others
                    or (mine and "" not in others and mine not in others)
                    or evidence >= 2
                ):
                    message = (
                        f"'{raw}' speaks of the person in the third person; the mail is to them"
                    )
                    flags.append(make_flag("pronoun", message, raw, slot, start))
            elif word == facts.first + "s" and language == "sv" and raw[0].isupper():
                message = f"'{raw}' names the person in the third person; write to them as 'du'"
                flags.append(make_flag("pronoun", message, raw, slot, start))
            elif word == facts.first and _third_person_name(text, words, i):
                message = f"'{raw}' names the person in the third person; write to them as 'you'"
                flags.append(make_flag("pronoun", message, raw, slot, start))
        previous = here
    return flags


def _pronoun_language(word: str, language: str) -> bool:
    """Whether the pronoun is one of the text's language ("her" is "here" in Norwegian)."""
    swedish = word in {"hon", "henne", "hennes", "han", "honom", "hans", "hen", "hens", "henom"}
    return swedish if language == "sv" else language == "en" and not swedish


def _other_gender(folded: list[str], i: int, facts: Facts) -> str | None:
    """The gender of another person named at word i ("" unknown), None if nobody is."""
    word = folded[i]
    if word in wl.PERSON_NOUNS:
        return ""
    for name, gender in facts.others:
        if word == name.split()[0] and word not in facts.own_names:
            return gender
    if word in wl.FIRST_NAMES and word not in facts.own_names:
        return "f" if word in wl.FEMALE_NAMES else "m"
    return None


def _third_person_name(text: str, words: list[tuple[str, int, int]], i: int) -> bool:
    _, start, end = words[i]
    before = text[max(0, start - 12) : start].casefold()
    if re.search(r"(?:^|\W)(?:hi|hello|hey|dear|thanks|thank you|hej|tack|hallo)[ ,]*$", before):
        return False
    rest = text[end : end + 3]
    if re.search(r"['’]s$", text[start:end]) or re.match(r"['’]s\b", rest):
        return True
    following = words[i + 1][0] if i + 1 < len(words) else ""
    vocative = rest[:1] in {",", "!", "."} or text[max(0, start - 2) : start].strip() == ","
    return not vocative and following in _THIRD_VERBS


_THIRD_VERBS = frozenset(
    "has is was had did led built shipped wrote grew cut made would will could can "
    "har är var hade ledde byggde skrev gjorde kan skulle".split()
)
