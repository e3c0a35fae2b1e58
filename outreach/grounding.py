"""Grounding and quality checks run on every draft; flags go to the reviewer, never drop a draft.

Without a model to ask, "is this fact in the inputs?" is answered with text heuristics: the AI
text's specifics (capitalised word sequences, numbers, dates, URLs, emails) are extracted and
looked up, tolerantly, in everything the model was given. Sentence-initial common words are not
names; months and weekdays are specifics like any other and pass only when the inputs have them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from outreach import _lexicon as lex
from outreach.templates import Slot, candidate_context


@dataclass(frozen=True)
class Flag:
    """One finding shown to the reviewer."""

    code: str
    message: str
    text: str = ""
    slot: str | None = None


@dataclass(frozen=True)
class GroundingInput:
    """Everything the model was given; AI text may only state facts found here."""

    candidate: Mapping[str, Any]
    role: Mapping[str, Any]
    sender: Mapping[str, Any]
    notes: str
    conversation: str
    template_source: str


_WORD_RE = re.compile(r"[^\W\d_][\w]*(?:['’\-.][^\W_]+)*")
_SENTENCE_GAP_RE = re.compile(r"[.!?:\n•\"“”«»]|^\s*[-*]\s")
_GREETING_RE = re.compile(
    r"^[ \t]*(?:hi|hello|hey|dear|hej|hejsan|hallo|hei|hoi|hola|bonjour|moi|good (?:morning|"
    r"afternoon|evening))[ \t,]+([^\s,!.:;]+)\.?(?:[ \t]+([^\s,!.:;]+))?",
    re.IGNORECASE | re.MULTILINE,
)
_SCORE_RES = (
    re.compile(r"(?<![\d/])(\d+(?:[.,]\d+)?)\s*/\s*(\d+)(?![\d/])"),
    re.compile(r"\b(\d+(?:[.,]\d+)?)\s+(?:out of|av|von|sur|de|op)\s+(\d+)\b", re.IGNORECASE),
)
_SCORE_WORD_RE = re.compile(
    r"\b(?:scored?|scoring|rated|rating|graded?|points?|betyg|poäng)\b[^.\n\d]{0,20}\d+"
    r"|\b\d+\s+(?:points|stars|poäng)\b",
    re.IGNORECASE,
)
_SCALES = {3, 4, 5, 6, 7, 10, 20, 100}


def fold(text: str) -> str:
    """Casefold and strip accents so 'Malmö' matches 'malmo'."""
    return lex.strip_accents(text.casefold())


def _flatten(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _flatten(item)
    elif isinstance(value, Iterable):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        yield str(value)


@dataclass(frozen=True)
class _TextFacts:
    """What one text supports: its links, addresses, numbers, dates and words."""

    urls: frozenset[str]
    emails: frozenset[str]
    numbers: frozenset[str]
    day_months: frozenset[tuple[int, int]]
    tokens: tuple[str, ...]
    words: frozenset[str]  # the tokens, and their parts: "github.com" also supports "GitHub"
    months: frozenset[int]
    weekdays: frozenset[int]


@functools.lru_cache(maxsize=256)
def _text_facts(text: str) -> _TextFacts:
    # Cached: the role, the sender and the template are the same for every draft of a batch.
    day_months = frozenset((m, d) for m, d, _, _, _ in lex.dates(text))
    calendar = [lex.calendar_word(w) for w in _WORD_RE.findall(text)]
    tokens = tuple(_token(w) for w in _WORD_RE.findall(text.replace("-", " ")))
    return _TextFacts(
        urls=frozenset(lex.url(u) for u in lex.URL_RE.findall(text)),
        emails=frozenset(e.lower() for e in lex.EMAIL_RE.findall(text)),
        numbers=frozenset(lex.number(n) for n in lex.NUMBER_RE.findall(text)),
        day_months=day_months,
        tokens=tokens,
        words=frozenset(tokens) | {p for t in tokens for p in re.split(r"[.'’]", t) if p},
        months=frozenset(n for k, n in filter(None, calendar) if k == "month")
        | {m for m, _ in day_months},
        weekdays=frozenset(n for k, n in filter(None, calendar) if k == "weekday"),
    )


class _Facts:
    """The inputs, indexed for tolerant look-ups."""

    def __init__(self, inputs: GroundingInput) -> None:
        own = [*_flatten(inputs.candidate), inputs.notes, inputs.conversation]
        shared = [*_flatten(inputs.role), *_flatten(inputs.sender), inputs.template_source]
        parts = [_text_facts("\n".join(own)), _text_facts("\n".join(shared))]
        self.urls = set().union(*(p.urls for p in parts))
        self.emails = set().union(*(p.emails for p in parts))
        self.numbers = set().union(*(p.numbers for p in parts))
        self.day_months = set().union(*(p.day_months for p in parts))
        self.words = set().union(*(p.words for p in parts))
        self.phrases = " " + " ".join(token for p in parts for token in p.tokens) + " "
        self.months = set().union(*(p.months for p in parts))
        self.weekdays = set().union(*(p.weekdays for p in parts))

    def has_word(self, word: str) -> bool:
        # Swedish genitive has no apostrophe: "Paywises team".
        return word in self.words or (
            len(word) > 3 and word.endswith("s") and word[:-1] in self.words
        )

    def has_url(self, url: str) -> bool:
        norm = lex.url(url)
        return any(known == norm or known.startswith(norm + "/") for known in self.urls)


@functools.lru_cache(maxsize=65536)
def _token(word: str) -> str:
    # Words repeat from draft to draft (the template, the role, the signature): fold each once.
    return re.sub(r"['’]s?$", "", fold(word))


def _spans_flags(text: str, facts: _Facts, slot: str) -> tuple[list[Flag], str]:
    """Flag unsupported URLs, emails and dates; return the text with them blanked out."""
    flags: list[Flag] = []
    chars = list(text)

    def blank(start: int, end: int) -> None:
        chars[start:end] = "\x00" * (end - start)

    for m in lex.EMAIL_RE.finditer(text):
        if m.group().lower() not in facts.emails:
            flags.append(_unsupported(m.group(), slot))
        blank(m.start(), m.end())
    for m in lex.URL_RE.finditer(text):
        if "\x00" not in "".join(chars[m.start() : m.end()]) and not facts.has_url(m.group()):
            flags.append(_unsupported(m.group().rstrip(".,;:!?)"), slot))
        blank(m.start(), m.end())
    for month, day, year, start, end in sorted(lex.dates(text), key=lambda d: d[3]):
        if "\x00" in "".join(chars[start:end]):
            continue
        known = (month, day) in facts.day_months and (year is None or str(year) in facts.numbers)
        if not known:
            flags.append(_unsupported(text[start:end], slot))
        blank(start, end)
    return flags, "".join(chars)


def _unsupported(text: str, slot: str) -> Flag:
    return Flag(
        "unsupported",
        f"'{text}' is in none of the inputs (profile, role, notes, conversation) — "
        "check it before sending",
        text,
        slot,
    )


def _specifics(text: str, facts: _Facts, slot: str) -> list[Flag]:
    """Flag names, organisations, places, numbers and dates the inputs do not contain."""
    flags, clean = _spans_flags(text, facts, slot)
    for m in lex.NUMBER_RE.finditer(clean):
        if lex.number(m.group()) not in facts.numbers:
            flags.append(_unsupported(m.group().strip(), slot))
    words = [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(clean)]
    sequences: list[list[int]] = []
    current: list[int] = []
    for i, (word, start, _) in enumerate(words):
        gap = clean[words[i - 1][2] : start] if i else clean[:start]
        initial = i == 0 or bool(_SENTENCE_GAP_RE.search(gap))
        joined = current and gap in (" ", "\u00a0") and not initial
        if not joined and current:
            sequences.append(current)
            current = []
        if _is_name_like(word):
            current.append(i)
        elif current and joined and fold(word) in lex.CONNECTORS:
            current.append(i)
        elif current:
            sequences.append(current)
            current = []
    if current:
        sequences.append(current)
    for seq in sequences:
        while seq and fold(words[seq[-1]][0]) in lex.CONNECTORS:
            seq = seq[:-1]
        if not seq:
            continue
        first = seq[0]
        gap = clean[words[first - 1][2] : words[first][1]] if first else clean[: words[first][1]]
        if (first == 0 or _SENTENCE_GAP_RE.search(gap)) and _is_common(words[first][0]):
            seq = seq[1:]
        if not seq:
            continue
        flags.extend(_check_sequence([words[i][0] for i in seq], words, seq, facts, slot))
    return flags


def _is_name_like(word: str) -> bool:
    if fold(word) in lex.ALWAYS_IGNORE or word.upper() in lex.GENERIC_CAPS:
        return False
    if lex.calendar_word(word) is not None:
        return False  # months and weekdays are checked on their own
    return word[0].isupper() or any(c.isupper() for c in word[1:])


def _is_common(word: str) -> bool:
    low = re.split(r"['’]", fold(word))[0]  # "You're", "Let's"
    return low in lex.COMMON or (len(low) > 5 and low.endswith(("ing", "ly", "ed")))


def _check_sequence(
    names: list[str], words: list[tuple[str, int, int]], seq: list[int], facts: _Facts, slot: str
) -> list[Flag]:
    tokens = [_token(w) for w in " ".join(names).replace("-", " ").split()]
    if f" {' '.join(tokens)} " in facts.phrases:
        return []
    if all(facts.has_word(t) for t in tokens if t not in lex.CONNECTORS):
        return []
    phrase = " ".join(names)
    before = fold(words[seq[0] - 1][0]) if seq[0] else ""
    after = fold(words[seq[-1] + 1][0]) if seq[-1] + 1 < len(words) else ""
    if fold(names[0]) in lex.FIRST_NAMES or before in lex.PERSON_BEFORE or after in lex.SAID:
        return [
            Flag(
                "foreign_name",
                f"'{phrase}' looks like a person's name that is not the candidate's, yours "
                "or in the inputs — check who it is",
                phrase,
                slot,
            )
        ]
    return [_unsupported(phrase, slot)]


def _calendar(text: str, facts: _Facts, slot: str) -> list[Flag]:
    """Flag weekdays and months outside full dates unless the inputs mention them."""
    flags = []
    _, clean = _spans_flags(text, facts, slot)
    for m in _WORD_RE.finditer(clean):
        kind = lex.calendar_word(m.group())
        if kind is None:
            continue
        table, number = kind
        known = facts.months if table == "month" else facts.weekdays
        if number not in known:
            flags.append(_unsupported(m.group(), slot))
    return flags


def _greetings(body: str, candidate: Mapping[str, Any]) -> list[Flag]:
    person = candidate_context(candidate)  # derives first_name the way templates do
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
            flags.append(
                Flag(
                    "wrong_greeting",
                    f"the greeting names '{word}' but the candidate's first name is "
                    f"'{first or '(unknown)'}'",
                    m.group().strip(),
                )
            )
    return flags


def _phrases(
    code: str, patterns: Sequence[tuple[re.Pattern[str], str]], text: str, slot: str | None
) -> list[Flag]:
    flags = []
    for pattern, why in patterns:
        for m in pattern.finditer(text):
            flags.append(Flag(code, why.format(text=m.group()), m.group(), slot))
    return flags


def _scores(text: str, slot: str | None) -> list[Flag]:
    spans = [(m.start(), m.end()) for m in _SCORE_WORD_RE.finditer(text)]
    for pattern in _SCORE_RES:
        for m in pattern.finditer(text):
            num, den = float(m.group(1).replace(",", ".")), int(m.group(2))
            if den in _SCALES and num <= den:
                spans.append((m.start(), m.end()))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):  # "scored 7/10" is one finding, not two
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    why = "'{}' shares an interview score — describe the evidence instead"
    return [Flag("score", why.format(text[a:b]), text[a:b], slot) for a, b in merged]


def _length(text: str, slot: Slot | None, name: str) -> list[Flag]:
    count = len(text.split())
    if count < 3:
        return [Flag("length", f"slot '{name}' has only {count} word(s)", text, name)]
    if slot and slot.max_words and count > 1.5 * slot.max_words:
        return [
            Flag(
                "length",
                f"slot '{name}' has {count} words; the template asks for at most {slot.max_words}",
                slot=name,
            )
        ]
    return []


def _language(ai_texts: Mapping[str, str], expected: str | None) -> list[Flag]:
    want = lex.language_code(expected)
    if not want:
        return []
    scores = lex.language_scores(" ".join(ai_texts.values()))
    best = max(scores, key=lambda code: scores[code])
    if scores[best] >= 3 and best != want and scores[best] >= 2 * scores.get(want, 0) + 1:
        names = lex.LANGUAGE_NAMES
        return [
            Flag(
                "language",
                f"the AI text looks {names[best]} but the candidate's language is "
                f"{names.get(want, want)}",
                names[best],
            )
        ]
    return []


def _slot_of(text: str, ai_texts: Mapping[str, str]) -> str | None:
    return next((name for name, value in ai_texts.items() if text in value), None)


def check(
    ai_texts: Mapping[str, str],
    slots: Sequence[Slot],
    body: str,
    inputs: GroundingInput,
    *,
    kind: str,
    language: str | None,
) -> list[Flag]:
    """Check a draft's AI text against its inputs and its body for quality; return the flags."""
    facts = _Facts(inputs)
    by_name = {slot.name: slot for slot in slots}
    flags: list[Flag] = []
    if ai_texts:  # template-only drafts have no AI text to check
        for slot in slots:
            if not ai_texts.get(slot.name, "").strip():
                used = "its fallback was used" if slot.fallback else "it is empty"
                flags.append(
                    Flag(
                        "empty_slot",
                        f"the model left slot '{slot.name}' empty; {used}",
                        "",
                        slot.name,
                    )
                )
    for name, text in ai_texts.items():
        if not text.strip():
            if name not in by_name:
                flags.append(Flag("empty_slot", f"the model left '{name}' empty", "", name))
            continue
        flags += _specifics(text, facts, name) + _calendar(text, facts, name)
        flags += _length(text, by_name.get(name), name)
        flags += _phrases("stock_phrase", lex.STOCK_PHRASES, text, name)
        flags += _phrases("gendered", lex.GENDERED, text, name)
    flags += _language(
        {k: v for k, v in ai_texts.items() if v.strip()},
        str(inputs.candidate.get("language") or "") or language,
    )
    flags += _greetings(body, inputs.candidate)
    flags += [
        Flag(
            "placeholder",
            f"leftover placeholder '{m.group()}' — fill it in",
            m.group(),
            _slot_of(m.group(), ai_texts),
        )
        for m in lex.PLACEHOLDER_RE.finditer(body)
    ]
    if kind == "feedback":
        for flag in _phrases("protected", lex.PROTECTED, body, None) + _scores(body, None):
            flags.append(Flag(flag.code, flag.message, flag.text, _slot_of(flag.text, ai_texts)))
    seen: set[tuple[str, str, str | None]] = set()
    unique = []
    for flag in flags:
        key = (flag.code, fold(flag.text), flag.slot)
        if key not in seen:
            seen.add(key)
            unique.append(flag)
    return unique
