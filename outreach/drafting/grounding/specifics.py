"""Specifics the AI text states: links, dates, numbers with their units, times, code names, names.

Each must be found in the inputs. A number must be found *with what it counts*: "4 minutes" is
not supported by "4 hours", nor "a team of 20" by the template's own "20-minute call".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from outreach.drafting.grounding import recognisers as lex
from outreach.drafting.grounding.facts import (
    SENTENCE_GAP_RE,
    WORD_RE,
    Facts,
    Flag,
    fold,
    make_flag,
    stem_of,
    token_of,
    unsupported_flag,
)
from outreach.drafting.lexicon import words as wl
from outreach.drafting.lexicon.numbers import RELATIVE_TIME_RE, Mention, mentions

_IDENTIFIER_RE = re.compile(
    r"`[^`\n]{1,60}`|\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?:\.[A-Za-z_]\w*)*\b"
    r"|\b\w+(?:::\w+)+\b|\b\w+(?:\.\w+)*\(\)|\b[a-z]+[A-Z][A-Za-z0-9]*\b"
    r"|\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+){2,}\b|\b(?:[A-Z][a-z]+)+(?:Controller|Service|Operator"
    r"|Manager|Client|Handler|Factory|Repository|Provider|Adapter)\b|\b[a-z][a-z0-9]*\d[a-z0-9]*\b"
    r"|\b[\w-]+\.(?:py|rs|go|ts|tsx|js|java|kt|toml|ya?ml|json|sql|sh)\b|(?<![\w-])--[a-z][a-z-]+"
    r"|\b[a-z][a-z0-9]+(?:\.[a-z_][a-z0-9_]+)+\b|\b[a-z0-9]+(?:-[a-z0-9]+)+\b|\b[a-zåäö]{3,}\b"
)
_DOMAINS = frozenset("com org net io dev se de nl uk eu co ai app example fi no dk at ch".split())


def check_links_and_dates(text: str, facts: Facts, slot: str) -> tuple[list[Flag], str]:
    """Flag unsupported URLs, emails and dates; return the text with them blanked out."""
    flags: list[Flag] = []
    chars = list(text)

    def blank(start: int, end: int) -> None:
        chars[start:end] = "\x00" * (end - start)

    for m in lex.EMAIL_RE.finditer(text):
        if m.group().lower() not in facts.emails:
            flags.append(unsupported_flag(m.group(), slot, m.start()))
        blank(m.start(), m.end())
    for m in lex.URL_RE.finditer(text):
        if "\x00" not in "".join(chars[m.start() : m.end()]) and not facts.has_url(m.group()):
            flags.append(unsupported_flag(m.group().rstrip(".,;:!?)"), slot, m.start()))
        blank(m.start(), m.end())
    for month, day, year, start, end in sorted(lex.dates(text), key=lambda d: d[3]):
        if "\x00" in "".join(chars[start:end]):
            continue
        known_year = year is None or any(m.value == year for m, _ in facts.mentions)
        if (month, day) not in facts.day_months or not known_year:
            flags.append(unsupported_flag(text[start:end], slot, start))
        blank(start, end)
    return flags, "".join(chars)


def check_numbers(clean: str, facts: Facts, slot: str, language: str) -> list[Flag]:
    """Flag numbers the inputs lack, or have with another unit, or only in the template."""
    flags = []
    for m in mentions(clean):
        same = [(k, tpl) for k, tpl in facts.mentions if abs(k.value - m.value) < 1e-9]
        fits = [(k, tpl) for k, tpl in same if _same_unit(m, k, facts, language, strict=tpl)]
        if any(not tpl for _, tpl in fits) or (fits and not m.year):
            continue
        if not same:
            what = "number" if not m.worded else "number (written in words)"
            message = f"the {what} '{m.text}' is in none of the inputs"
            flags.append(make_flag("number", message, m.text, slot, m.start))
        elif all(tpl for _, tpl in same):
            known = same[0][0].text
            message = (
                f"'{m.text}' is not in the inputs; the number appears only in the template's "
                f"own text ('{known}'), which is no source for facts"
            )
            flags.append(make_flag("template_number", message, m.text, slot, m.start))
        else:
            known = next(k.text for k, tpl in same if not tpl)
            message = f"'{m.text}' changes what the inputs count or measure: they say '{known}'"
            flags.append(make_flag("unit", message, m.text, slot, m.start))
    return flags


def _same_unit(m: Mention, k: Mention, facts: Facts, language: str, *, strict: bool) -> bool:
    if m.measure != k.measure and (m.measure and k.measure or strict):
        return False
    if m.rate and k.rate and m.rate != k.rate:
        return False
    if m.measure and not k.measure and _content(k.nouns, language) and not m.year:
        return False  # a count became a measure: "60 reports" -> "60 percent"
    mine, theirs = _content(m.nouns, language), _content(k.nouns, language)
    if strict:
        return m.measure is not None or bool(set(mine) & set(theirs))
    if m.measure or not mine or not theirs or mine[0] in theirs or theirs[0] in mine:
        return True
    return False  # another noun counted: "120 clusters" for "120 services"


def _content(nouns: Sequence[str], language: str) -> list[str]:
    return [stem_of(n, language) for n in nouns if n not in wl.ALL_STOPWORDS]


def check_relative_times(clean: str, facts: Facts, slot: str) -> list[Flag]:
    flags = []
    for m in RELATIVE_TIME_RE.finditer(clean):
        if f" {' '.join(fold(m.group()).split())} " not in facts.folded:
            message = f"'{m.group()}' dates something the inputs give no time for"
            flags.append(make_flag("relative_time", message, m.group(), slot, m.start()))
    return flags


def check_identifiers(clean: str, facts: Facts, slot: str, language: str) -> list[Flag]:
    flags = []
    for m in _IDENTIFIER_RE.finditer(clean):
        word = m.group().strip("`")
        core = " ".join(re.sub(r"[^\w'’-]+", " ", fold(word)).split())
        if not _looks_like_code(word, language) or f" {core} " in facts.folded:
            continue
        if token_of(word) in facts.words:
            continue
        message = (
            f"'{word}' looks like a code name (library, table, function) in none of the inputs"
        )
        flags.append(make_flag("identifier", message, m.group(), slot, m.start()))
    return flags


def _looks_like_code(word: str, language: str) -> bool:
    if word.islower() and word.isalpha():  # a plain word: a known tool, or no vowels at all
        novowel = not re.search(r"[aeiouyåäöü]", word) and word not in wl.VOWELLESS_OK
        return word in wl.TECH or novowel
    if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", word):  # kebab-case: a library, or English
        parts = word.split("-")
        return parts[0] in wl.TECH_PREFIXES and (len(parts) > 2 or language == "en")
    if re.fullmatch(r"[a-z][a-z0-9]+(?:\.[a-z_][a-z0-9_]+)+", word):
        return word.rsplit(".", 1)[1] not in _DOMAINS
    if re.fullmatch(r"[a-z]+\d+", word) and len(word) <= 3:
        return word not in {"h1", "h2", "q1", "q2", "q3", "q4"}
    return True


def check_names(clean: str, facts: Facts, slot: str, language: str) -> list[Flag]:
    """Flag names, organisations and places that the inputs do not contain."""
    words = [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(clean)]
    flags: list[Flag] = []
    run: list[int] = []
    for i, (word, start, _) in enumerate(words + [("", len(clean), len(clean))]):
        gap = clean[words[i - 1][2] : start] if i else clean[:start]
        initial = i == 0 or bool(SENTENCE_GAP_RE.search(gap))
        joined = bool(run) and gap in (" ", "\u00a0") and not initial
        if run and not (joined and (_is_name_like(word) or fold(word) in lex.CONNECTORS)):
            flags += _check_run(run, words, clean, facts, slot, language)
            run = []
        if word and _is_name_like(word) and not _is_noun(word, i, words, initial, language):
            run.append(i)
        elif run and joined and fold(word) in lex.CONNECTORS:
            run.append(i)
    return flags


def _is_name_like(word: str) -> bool:
    if fold(word) in lex.ALWAYS_IGNORE or word.upper() in lex.GENERIC_CAPS:
        return False
    if lex.calendar_word(word) is not None:
        return False  # months and weekdays are checked on their own
    return word[0].isupper() or any(c.isupper() for c in word[1:])


def _is_noun(
    word: str, i: int, words: list[tuple[str, int, int]], initial: bool, lang: str
) -> bool:
    """Whether a capitalised word is an ordinary word: a sentence start, a German noun."""
    low = re.split(r"['’]", fold(word))[0]
    if initial and (low in wl.COMMON or (len(low) > 5 and low.endswith(("ing", "ly", "ed")))):
        return True
    if initial and lang == "sv" and word[1:].islower() and low.endswith(wl.SV_NOUN_ENDINGS):
        return True  # "Teamet", "Rollen", "Tjänsten"
    if lang == "de" and low in wl.DE_DETERMINERS:
        return True  # "Ihrer Erfahrung"
    if lang == "de" and word[1:].islower():
        before = fold(words[i - 1][0]) if i else ""
        return initial or before in wl.DE_DETERMINERS or low.endswith(wl.DE_NOUN_ENDINGS)
    return False


def _check_run(
    run: list[int], words: list[tuple[str, int, int]], text: str, facts: Facts, slot: str,
    language: str,
) -> list[Flag]:  # fmt: skip
    while run and fold(words[run[-1]][0]) in lex.CONNECTORS:
        run = run[:-1]
    if not run:
        return []
    names = [words[i][0] for i in run]
    first, start = names[0], words[run[0]][1]
    gap = text[words[run[0] - 1][2] : start] if run[0] else text[:start]
    initial = not run[0] or bool(SENTENCE_GAP_RE.search(gap))
    if initial and len(run) == 1 and language != "en" and first[1:].islower():
        if fold(first) not in wl.FIRST_NAMES:
            return []  # Swedish and German open sentences with verbs and nouns: "Läs", "Rollen"
    tokens = [token_of(w) for w in " ".join(names).replace("-", " ").split()]
    if f" {' '.join(tokens)} " in facts.phrases:
        return []
    if all(facts.has_word(t) for t in tokens if t not in lex.CONNECTORS):
        return []
    start, end = words[run[0]][1], words[run[-1]][2]
    phrase = text[start:end]
    before = fold(words[run[0] - 1][0]) if run[0] else ""
    after = fold(words[run[-1] + 1][0]) if run[-1] + 1 < len(words) else ""
    if fold(names[0]) in wl.FIRST_NAMES or before in wl.PERSON_BEFORE or after in wl.SAID:
        message = f"'{phrase}' looks like a person who is not the candidate, you or in the inputs"
        return [make_flag("foreign_name", message, phrase, slot, start)]
    return [unsupported_flag(phrase, slot, start)]


def check_calendar(clean: str, facts: Facts, slot: str) -> list[Flag]:
    """Flag weekdays and months outside full dates unless the inputs mention them."""
    flags = []
    for m in WORD_RE.finditer(clean):
        kind = lex.calendar_word(m.group())
        if kind is None:
            continue
        table, number = kind
        if number not in (facts.months if table == "month" else facts.weekdays):
            flags.append(unsupported_flag(m.group(), slot, m.start()))
    return flags
